"""Task runners: what a CI step such as `mise run test` or `make test` ends up running.

Each runner's file is read into tasks, a name and the shell lines it runs: make,
just, mise, poe, hatch and pdm scripts, npm scripts, taskipy and go-task, and tox,
nox and invoke (whose sessions are code, so every command in the file counts).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from mlops_levels.tree import Line, Tree

Tasks = dict[str, list[Line]]

# How a shell line calls a runner's task: the runner, and the task names it gives.
CALLS = {
    "make": re.compile(r"\bmake\s+((?:-[\w-]+\s+)*(?:[\w.-]+\s*)+)"),
    "just": re.compile(r"\bjust\s+([\w-]+)"),
    "mise": re.compile(r"\bmise\s+(?:run\s+|r\s+)?([\w:.-]+)"),
    "poe": re.compile(r"\bpoe\s+([\w:.-]+)"),
    "hatch": re.compile(r"\bhatch\s+run\s+(?:[\w.-]+:)?([\w.-]+)"),
    "pdm": re.compile(r"\bpdm\s+(?:run\s+)?([\w:.-]+)"),
    "task": re.compile(r"\btask\s+([\w:.-]+)"),
    "npm": re.compile(r"\b(?:npm|pnpm|yarn)\s+(?:run\s+|run-script\s+)?([\w:.-]+)"),
    "tox": re.compile(r"\btox\b()"),
    "nox": re.compile(r"\bnox\b()"),
    "invoke": re.compile(r"\binv(?:oke)?\s+()[\w-]+"),
}
# Runners whose every task is a command in their file: the empty name means "any".
# tox's ini format may also sit in setup.cfg, or in pyproject.toml's legacy_tox_ini.
WHOLE_FILE = {
    "tox": ("tox.ini", "tox.toml", "setup.cfg", "pyproject.toml"),
    "nox": ("noxfile.py",),
    "invoke": ("tasks.py",),
}
MAKEFILES = ("Makefile", "makefile", "GNUmakefile")
JUSTFILES = ("justfile", "Justfile", ".justfile")
MISE_FILES = ("mise.toml", ".mise.toml")


class Runners:
    """The tasks of every runner a folder configures, read once."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self._tasks: dict[str, Tasks] = {}
        # make and just: the tasks each task depends on, read with the tasks.
        self.prerequisites: dict[str, list[str]] = {}

    def tasks(self, runner: str) -> Tasks:
        if runner not in self._tasks:
            readers: dict[str, Callable[[], Tasks]] = {
                "make": lambda: self._recipes(MAKEFILES, re.compile(r"([\w.\s-]+):(?!=)")),
                "just": lambda: self._recipes(JUSTFILES, re.compile(r"@?([\w-]+)[^:=]*:(?!=)")),
                "mise": self._mise,
                "poe": lambda: self._toml_tasks("pyproject.toml", ("tool", "poe", "tasks")),
                "hatch": self._hatch,
                "pdm": lambda: self._toml_tasks("pyproject.toml", ("tool", "pdm", "scripts")),
                "npm": lambda: self._toml_tasks("package.json", ("scripts",)),
                # taskipy's `task test`, or go-task's Taskfile.yml.
                "task": lambda: (
                    self._toml_tasks("pyproject.toml", ("tool", "taskipy", "tasks"))
                    | self._toml_tasks("Taskfile.yml", ("tasks",))
                ),
            }
            self._tasks[runner] = readers.get(runner, lambda: self._whole_file(runner))()
        return self._tasks[runner]

    def followed(self, command: str, depth: int = 3) -> Iterator[tuple[Line, str]]:
        """The lines a shell line's runner calls run, with how they were called, to a depth."""
        for runner, pattern in CALLS.items():
            for match in pattern.finditer(command):
                names = match.group(1).split() or [""]
                for name in names:
                    for line in self.tasks(runner).get(name, []):
                        call = f"{runner} {name}".strip()
                        yield line, call
                        if depth > 1:
                            yield from self.followed(line.text, depth - 1)

    def _recipes(self, names: tuple[str, ...], header: re.Pattern[str]) -> Tasks:
        """Makefile-like recipes: an unindented `name:` header, then indented lines."""
        tasks: Tasks = {}
        for path in names:
            current: list[str] = []
            for number, text in enumerate(self.tree.lines(path), start=1):
                if text[:1] in ("\t", " ") and text.strip():
                    for name in current:
                        tasks.setdefault(name, []).append(Line(path, number, text))
                elif match := header.match(text):
                    current = match.group(1).split()
                    after = text[match.end() :].split("#")[0].split()
                    for name in current:
                        self.prerequisites[f"{path}:{name}"] = after
                elif text.strip() and not text.startswith("#"):
                    current = []
        return tasks

    def _mise(self) -> Tasks:
        tasks: Tasks = {}
        for path in MISE_FILES:
            tasks |= self._toml_tasks(path, ("tasks",))
        return tasks

    def _hatch(self) -> Tasks:
        tasks: Tasks = {}
        envs = _dig(self.tree.load("pyproject.toml"), ("tool", "hatch", "envs"))
        for env in envs if isinstance(envs, dict) else {}:
            tasks |= self._toml_tasks("pyproject.toml", ("tool", "hatch", "envs", env, "scripts"))
        return tasks

    def _toml_tasks(self, path: str, keys: tuple[str, ...]) -> Tasks:
        """Tasks in a table of name = command, a list of commands, or {cmd|shell|run = ...}."""
        table = _dig(self.tree.load(path), keys)
        tasks: Tasks = {}
        for name, value in (table if isinstance(table, dict) else {}).items():
            for command in _commands(value):
                for text in command.splitlines() or [command]:
                    if text.strip():
                        found = self.tree.locate(path, re.compile(re.escape(text.strip())))
                        line = found if isinstance(found, Line) else Line(path, 0, text)
                        tasks.setdefault(name, []).append(line)
        return tasks

    def _whole_file(self, runner: str) -> Tasks:
        """tox's commands, nox's sessions and invoke's tasks: every line that runs a command."""
        lines: list[Line] = []
        for path in WHOLE_FILE[runner]:
            in_commands = False  # tox: inside a `commands =` value and its indented lines
            for number, text in enumerate(self.tree.lines(path), start=1):
                if runner == "tox":
                    if re.match(r"^\S", text):
                        in_commands = bool(re.match(r"commands(_pre|_post)?\s*=", text))
                    if in_commands and text.split("=", 1)[-1].strip():
                        lines.append(Line(path, number, text))
                elif ".run(" in text and not text.lstrip().startswith("#"):
                    lines.append(Line(path, number, text))
        return {"": lines}


def _dig(data: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _commands(value: Any, depth: int = 0) -> Iterator[str]:
    """The shell commands of a task: a string, a list of them, or a table's cmd/shell/run
    (to a depth: a file nested a thousand deep must not exhaust the stack)."""
    if isinstance(value, str):
        yield value
    elif depth > 8:
        return
    elif isinstance(value, list):
        for item in value:
            yield from _commands(item, depth + 1)
    elif isinstance(value, dict):
        for key in ("cmd", "cmds", "shell", "run", "script", "composite", "sequence", "depends"):
            yield from _commands(value.get(key), depth + 1)
