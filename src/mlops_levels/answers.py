"""The template's answers: `--data` ones and level numbers as the CLI accepts them, and the
ones a project records in its answers file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlops_levels.errors import CLIError
from mlops_levels.template_source import template_root

# Where Copier records a project's answers (copier.yml's `_answers_file`).
ANSWERS_FILE = ".copier-answers.yml"


class CorruptAnswers(ValueError):
    """A project's answers file that cannot be used; the message says why, in one line."""


def load_answers(file: Path) -> dict[str, Any]:
    """The answers a project's answers file records, or CorruptAnswers saying why not."""
    try:
        answers = yaml.safe_load(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise CorruptAnswers(f"it is not UTF-8 text (byte {error.start})") from error
    except OSError as error:
        raise CorruptAnswers(f"it cannot be read: {error.strerror or error}") from error
    except yaml.YAMLError as error:
        raise CorruptAnswers(f"it is not valid YAML: {_yaml_problem(error)}") from error
    if answers is None:
        raise CorruptAnswers("it is empty")
    if not isinstance(answers, dict):
        raise CorruptAnswers(f"it holds {type(answers).__name__}, not a mapping of answers")
    return answers


def recorded_level(answers: dict[str, Any], count: int) -> int:
    """The level the answers record, or CorruptAnswers if a ladder of `count` has no such level."""
    level = answers.get("level")
    if type(level) is not int or not 0 <= level < count:
        raise CorruptAnswers(f"it records level {level!r}, and the levels are 0 to {count - 1}")
    return level


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's error on one line: what is wrong and where, without the quoted source."""
    problem, mark = getattr(error, "problem", None), getattr(error, "problem_mark", None)
    if problem and mark:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(error).split())


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
