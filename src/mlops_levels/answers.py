"""The template's questions as the CLI accepts them: `--data` answers and level numbers."""

from __future__ import annotations

from typing import Any

import yaml

from mlops_levels.errors import CLIError
from mlops_levels.template_source import template_root

# Where Copier records a project's answers (copier.yml's `_answers_file`).
ANSWERS_FILE = ".copier-answers.yml"


def questions() -> dict[str, Any]:
    """The questions a user may answer: copier.yml's, less settings and computed ones."""
    config = yaml.safe_load((template_root() / "copier.yml").read_text(encoding="utf-8"))
    return {
        name: spec
        for name, spec in config.items()
        if not name.startswith("_") and spec.get("when") is not False
    }


def parse_data(pairs: list[str]) -> dict[str, str]:
    """`--data KEY=VALUE` options as a dict, refusing keys that are not questions."""
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
