"""What the CLI shows at a terminal: progress lines, warnings, prompts, colours.

Progress and warnings go to stderr, so that stdout holds only a command's
result (a patch, JSON) and can be piped. Prompts are questionary's, and run
only when both stdin and stdout are a terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

# The colour of a unified diff's line, by the prefix that starts it: the first match wins.
COLOURS = {"+++": "\033[1m", "---": "\033[1m", "+": "\033[32m", "-": "\033[31m", "@@": "\033[36m"}


def progress(message: str) -> None:
    """One line saying what the command is doing now."""
    print(f"==> {message}", file=sys.stderr, flush=True)


def error(message: str) -> None:
    """Why the command stopped, as one message; its exit code says what kind of failure."""
    print(f"mlops-levels: {message}", file=sys.stderr, flush=True)


def warn(message: str) -> None:
    """Something the user should know, although the command goes on."""
    print(f"mlops-levels: warning: {message}", file=sys.stderr, flush=True)


def level_name(level: dict[str, Any]) -> str:
    """A level as messages name it: "2 (Automated)"."""
    return f"{level['level']} ({level['name']})"


def at_terminal() -> bool:
    """Whether a person can answer: both stdin and stdout are a terminal."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def colour() -> bool:
    """Whether stdout takes colours: a terminal, and no NO_COLOR (https://no-color.org)."""
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def coloured(line: str) -> str:
    """A line of a unified diff, coloured as git colours it."""
    for prefix, code in COLOURS.items():
        if line.startswith(prefix):
            return f"{code}{line}\033[0m"
    return line


def confirm(question: str) -> bool:
    """Ask a yes/no question, yes by default; Ctrl-C or Escape interrupts the command."""
    import questionary  # prompt_toolkit is slow to import, and only prompts need it

    return _answered(questionary.confirm(question, default=True).ask())


def choose(question: str, choices: Sequence[str | tuple[str, Any, str]]) -> Any:
    """Ask to pick one of `choices`: names, or (title, value, description) triples."""
    import questionary

    options = [
        choice
        if isinstance(choice, str)
        else questionary.Choice(choice[0], value=choice[1], description=choice[2])
        for choice in choices
    ]
    return _answered(questionary.select(question, choices=options).ask())


def _answered(answer: Any) -> Any:
    # questionary answers None when the user interrupts the prompt.
    if answer is None:
        raise KeyboardInterrupt
    return answer
