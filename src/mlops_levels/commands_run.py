"""What a project runs: its CI steps, followed through task runners, and the other places
commands live (runner tasks, Dockerfiles, DVC stages, MLproject entry points, shell scripts).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from mlops_levels.approval import find_approval_gate
from mlops_levels.monorepo_ci import concerned_jobs
from mlops_levels.runners import CALLS, Runners
from mlops_levels.tree import Line, Tree

# CI files of GitHub Actions (and its local composite actions), GitLab, Azure, CircleCI,
# Bitbucket; the keys under which they hold shell.
CI_GLOBS = (
    ".github/workflows/*.yml",
    ".github/workflows/*.yaml",
    ".github/actions/*/action.yml",
    ".github/actions/*/action.yaml",
    ".gitlab-ci.yml",
    "**/.gitlab-ci.yml",
    "azure-pipelines.yml",
    ".circleci/config.yml",
    "bitbucket-pipelines.yml",
)
SHELL_KEYS = {"run", "script", "before_script", "after_script", "command", "bash", "pwsh"}
# Lines of a shell step, split into commands; an install command names a tool, not runs it.
SHELL_SEPARATOR = re.compile(r"&&|\|\||[;|]")
INSTALL = re.compile(r"\b(install|add|sync)\b")
# What may stand before a command on its line: a YAML key, a Dockerfile instruction,
# variables, and the runners that run it (`uv run`, `python -m`).
PREFIX = (
    r"(?:-\s+)?(?:[\w-]+:\s+)?(?:(?:RUN|CMD|ENTRYPOINT)\s+)?(?:\[\s*\")?(?:\w+=\S*\s+)*"
    r"(?:(?:uv|poetry|pipenv|pdm|hatch|conda)\s+run\s+(?:--?[\w-]+(?:[= ]\S+)?\s+)*)?"
    r"(?:python3?\s+-m\s+)?"
)
# A shell line that runs a Python step: a script or a module, not a tool such as pip or pytest.
PYTHON_STEP = re.compile(r"(?:^|\s)(?:python3?|\$\(PYTHON\w*\))\s+(?:-m\s+)?([\w./-]+)")
TOOLS = {
    "pip",
    "pytest",
    "ruff",
    "black",
    "mypy",
    "flake8",
    "isort",
    "pylint",
    "build",
    "twine",
    "venv",
    "pre_commit",
    "coverage",
    "tox",
    "nox",
    "unittest",
    "uv",
    "pipx",
    "setup.py",
}
DOCKER_COMMAND = re.compile(r"^\s*(RUN|CMD|ENTRYPOINT)\b", re.IGNORECASE)


class Commands(Tree):
    """A folder's commands: what its CI runs and what else it runs."""

    @cached_property
    def runners(self) -> Runners:
        return Runners(self)

    def find_ci_run(self, word: str) -> str | None:
        """The CI line that runs the word, or the runner task's line a CI step calls."""
        runs = _word(word)
        for line in self.ci_lines():
            if _runs(line.text, runs):
                return str(line)
            for task_line, call in self.runners.followed(line.text):
                if _runs(task_line.text, runs):
                    return f"{task_line} (run by `{call}` in {line.path})"
        return None

    def find_run(self, command: str) -> str | None:
        """Any line of the project that runs the command (as the command, not an argument):
        CI, a task, a Dockerfile, a stage, a shell script."""
        runs = re.compile(rf"^{PREFIX}{re.escape(command)}(?![\w-])")
        for line in self.command_lines():
            if any(runs.match(part.strip()) for part in SHELL_SEPARATOR.split(line.text)):
                return str(line)
        return None

    def find_task(self, pattern: str) -> str | None:
        """A runner's task whose name matches, such as a `pipeline` target."""
        wanted = re.compile(pattern)
        for runner in CALLS:
            for name, lines in self.runners.tasks(runner).items():
                if name and wanted.fullmatch(name) and lines:
                    return f"{lines[0]} (the `{runner} {name}` task)"
        return None

    def find_chained_tasks(self, _: object) -> str | None:
        """Steps that run in order from one command: a make or just target that depends on
        another, both running a Python step, or a shell script that runs two of them."""
        for runner in ("make", "just"):
            tasks = self.runners.tasks(runner)
            for name, lines in tasks.items():
                before = self.runners.prerequisites.get(f"{lines[0].path}:{name}", [])
                runs = [line for line in lines if _step(line.text)]
                if runs and any(_step(t.text) for p in before for t in tasks.get(p, [])):
                    return f"{runs[0]} (`{runner} {name}` runs after {', '.join(before)})"
        for path in self.glob("**/*.sh"):
            steps = [(n, t) for n, t in enumerate(self.lines(path), 1) if _step(t)]
            if len({_step(text) for _, text in steps}) >= 2:
                number, text = steps[0]
                return f"{Line(path, number, text)} (+{len(steps) - 1} more steps)"
        return None

    def ci_lines(self) -> list[Line]:
        """Each line of shell a CI job runs, located in its file; in a monorepo's project,
        also those of the root's jobs that concern it (their paths are the root's)."""
        lines = [line for path in self._ci_files() for line in self._shell_lines(path)]
        if self.outer is None:
            return lines
        root, folder, shown = self.outer
        for path in _ci_files(root):
            jobs = concerned_jobs(root, path, folder)
            for line in _shell_lines(root, path, SHELL_KEYS, jobs):
                lines.append(Line(shown + line.path, line.number, line.text))
        return lines

    def find_deploy_gate(self, target: str) -> str | None:
        """A deploy behind a person's approval: this project's, or a root job's that concerns it."""
        if (found := find_approval_gate(self, target)) or self.outer is None:
            return found
        root, folder, shown = self.outer
        found = find_approval_gate(root, target, lambda path: concerned_jobs(root, path, folder))
        # Evidence starts with its file's path, relative to the root's tree.
        return found and shown + found

    def command_lines(self) -> Iterator[Line]:
        yield from self.ci_lines()
        for runner in CALLS:
            for lines in self.runners.tasks(runner).values():
                yield from lines
        for path in self.glob("**/Dockerfile") + self.glob("**/*.sh"):
            for number, text in enumerate(self.lines(path), start=1):
                if path.endswith(".sh") or DOCKER_COMMAND.match(text):
                    yield Line(path, number, text)
        for path in self.glob("**/dvc.yaml") + self.glob("**/MLproject"):
            yield from self._shell_lines(path, keys={"cmd", "command"})

    def _ci_files(self) -> list[str]:
        return _ci_files(self)

    def _shell_lines(self, path: str, keys: set[str] = SHELL_KEYS) -> Iterator[Line]:
        return _shell_lines(self, path, keys, self.load(path))


def _ci_files(tree: Tree) -> list[str]:
    return list(dict.fromkeys(path for pattern in CI_GLOBS for path in tree.glob(pattern)))


def _shell_lines(tree: Tree, path: str, keys: set[str], data: Any) -> Iterator[Line]:
    """The shell lines under `keys` in `data`, read from file `path`, located in it."""
    for command in _strings_under(data, keys):
        for text in command.splitlines():
            if text.strip():
                found = tree.locate(path, re.compile(re.escape(text.strip())))
                yield found if isinstance(found, Line) else Line(path, 0, text)


def _strings_under(data: Any, keys: set[str], depth: int = 0) -> Iterator[str]:
    """The shell strings held under the keys, at any depth of a CI file (to a limit)."""
    if depth > 32:
        return
    if isinstance(data, dict):
        for key, value in data.items():
            if key in keys and not isinstance(value, dict):
                yield from _flatten(value, depth)
            else:
                yield from _strings_under(value, keys, depth + 1)
    elif isinstance(data, list):
        for item in data:
            yield from _strings_under(item, keys, depth + 1)


def _flatten(items: Any, depth: int) -> Iterator[str]:
    if isinstance(items, str):
        yield items
    elif isinstance(items, list) and depth <= 32:
        for item in items:
            yield from _flatten(item, depth + 1)


def _step(line: str) -> str | None:
    """The script or module a line runs as a Python step, if it runs one."""
    match = PYTHON_STEP.search(line)
    return match.group(1) if match and match.group(1) not in TOOLS else None


def _word(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.-]){re.escape(word)}(?![\w-])")


def _runs(command: str, word: re.Pattern[str]) -> bool:
    """Whether a shell line runs the word, not merely installs it."""
    return any(
        word.search(part) and not INSTALL.search(part) for part in SHELL_SEPARATOR.split(command)
    )
