"""The options several commands share, declared once: `--data`, a level, a project's folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from mlops_levels.errors import CLIError
from mlops_levels.template_source import template_root


def add_data(parser: argparse.ArgumentParser | argparse._ActionsContainer, example: str) -> None:
    """`--data KEY=VALUE`, repeatable; `example` says which question it answers, and how."""
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"answer {example} (repeatable)",
    )


def add_folder(parser: argparse.ArgumentParser, what: str) -> None:
    """The optional PATH of the folder a command works on, the current one by default."""
    parser.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=Path("."),
        metavar="PATH",
        help=f"the {what}'s folder (default: the current folder)",
    )


def questions() -> dict[str, Any]:
    """The questions a user may answer: copier.yml's, less settings and computed ones."""
    config = yaml.safe_load((template_root() / "copier.yml").read_text(encoding="utf-8"))
    return {
        name: spec
        for name, spec in config.items()
        if not name.startswith("_") and spec.get("when") is not False
    }


def parse_data(pairs: list[str], level_instead: str | None = None) -> dict[str, str]:
    """`--data KEY=VALUE` options as a dict, refusing keys that are not questions, and the
    level too when the command takes it another way (`level_instead` says which)."""
    known = questions()
    data = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise CLIError(f"--data {pair!r} is not KEY=VALUE, e.g. --data project_name=churn")
        if key not in known:
            raise CLIError(
                f"--data {key}: no such question. The questions are: {', '.join(known)}."
            )
        if key == "level" and level_instead:
            raise CLIError(f"--data level: {level_instead}")
        data[key] = value
    return data


def level_number(value: object, count: int) -> int:
    """`value` as a level of a ladder of `count` levels, or a usage error that says the range."""
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        number = -1
    if not 0 <= number < count:
        raise CLIError(f"level {value!r} does not exist: choose 0 to {count - 1}.")
    return number
