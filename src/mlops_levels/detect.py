"""Evaluate the entry criteria of levels/ against a folder: its files, dependencies, CI and config.

A criterion's `detect` rule lists alternatives of four kinds: `files` (globs
relative to the folder; a trailing `/` means a folder), `dependencies` (names
declared in pyproject.toml, requirements files, environment.yml or Pipfile),
`ci_runs` (words a CI step runs) and `config` (a dotted key in a YAML, TOML or
JSON file). One alternative found is enough, or every one with `all: true`.
A criterion with a `question` instead is put to a person.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_levels.approval import find_approval_gate
from mlops_levels.tree import Line, Tree

Criterion = dict[str, Any]

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"

# Where dependencies are declared, relative to the folder.
REQUIREMENTS_GLOBS = ("requirements*.txt", "requirements/*.txt")
CONDA_FILES = ("environment.yml", "environment.yaml")

# Lines of a shell step, split into commands; an install command names a tool, not runs it.
SHELL_SEPARATOR = re.compile(r"&&|\|\||[;|]")
INSTALL = re.compile(r"\b(install|add|sync)\b")
MAKE = re.compile(r"\bmake\s+((?:[\w.-]+\s*)+)")


@dataclass(frozen=True)
class Finding:
    """A criterion's outcome, and what shows it: a file, a line, or what was looked for."""

    status: str  # PASS, FAIL or UNKNOWN
    evidence: str


class Project(Tree):
    """A folder being assessed, and a way to ask a person what no file can show."""

    def __init__(self, root: Path, ask: Callable[[Criterion], bool | None]) -> None:
        super().__init__(root)
        self.ask = ask  # True, False, or None when nobody answers

    def evaluate(self, criterion: Criterion) -> Finding:
        """Apply the criterion's rule from levels/: its detection, or its question."""
        if "detect" not in criterion:
            return self._answer(criterion)
        finding = self._detect(criterion)
        # A question is the fallback for what the files do not show.
        if finding.status == PASS or "question" not in criterion:
            return finding
        return self._answer(criterion, looked_for=finding.evidence)

    def _detect(self, criterion: Criterion) -> Finding:
        rule = criterion["detect"]
        finders: dict[str, Callable[[Any], str | None]] = {
            "files": self._find_file,
            "dependencies": self._find_dependency,
            "ci_runs": self._find_ci_run,
            "config": self._find_config,
            "approval_gate": lambda target: find_approval_gate(self, target),
        }
        found: list[str] = []
        missing: dict[str, list[Any]] = {}
        for kind, items in rule.items():
            if kind == "all":
                continue
            if kind not in finders:
                raise ValueError(f"{criterion['id']}: unknown detection kind {kind!r}")
            for item in items:
                if evidence := finders[kind](item):
                    found.append(evidence)
                else:
                    missing.setdefault(kind, []).append(item)
        if not missing or (found and not rule.get("all")):
            # Two globs can find the same file: say it once.
            return Finding(PASS, "; ".join(dict.fromkeys(found)))
        return Finding(FAIL, "; ".join(_describe(kind, items) for kind, items in missing.items()))

    def _answer(self, criterion: Criterion, looked_for: str = "no file can show it") -> Finding:
        answer = self.ask(criterion)
        if answer is None:
            return Finding(UNKNOWN, f"{looked_for}; not answered: {criterion['question']}")
        return Finding(PASS if answer else FAIL, f"answered {'yes' if answer else 'no'}")

    # --- The four kinds of detection -----------------------------------------------

    def _find_file(self, pattern: str) -> str | None:
        matches = self.glob(pattern)
        if not matches:
            return None
        more = f" (+{len(matches) - 1} more)" if len(matches) > 1 else ""
        return matches[0] + more

    def _find_dependency(self, name: str) -> str | None:
        wanted = _normalise(name)
        for path, spec in self._dependencies():
            if _normalise(_requirement_name(spec)) == wanted:
                return str(self._locate(path, re.compile(re.escape(spec))))
        return None

    def _dependencies(self) -> Iterator[tuple[str, str]]:
        """Each declared requirement, as (file, requirement text as written)."""
        for spec in _pyproject_requirements(_table(self._load("pyproject.toml"))):
            yield "pyproject.toml", spec
        pipfile = _table(self._load("Pipfile"))
        for section in ("packages", "dev-packages"):
            for spec in _table(pipfile.get(section)):
                yield "Pipfile", spec
        for pattern in REQUIREMENTS_GLOBS:
            for path in self.glob(pattern):
                for text in self._lines(path):
                    spec = text.split("#")[0].strip()
                    if spec and not spec.startswith("-"):
                        yield path, spec
        for path in CONDA_FILES:
            for spec in _flatten(_table(self._load(path)).get("dependencies")):
                yield path, spec.split("::")[-1]

    def _find_ci_run(self, word: str) -> str | None:
        runs = re.compile(rf"(?<![\w.-]){re.escape(word)}(?![\w-])")
        for path, command in self._ci_commands():
            if _runs(command, runs):
                return str(self._locate(path, re.compile(re.escape(command.strip()))))
            for target in _make_targets(command):
                for line in self._make_recipe(target):
                    if _runs(line.text, runs):
                        return f"{line} (run by `make {target}` in {path})"
        return None

    def _ci_commands(self) -> Iterator[tuple[str, str]]:
        """Each line of shell that a GitHub Actions or GitLab CI job runs."""
        for path in self.glob(".github/workflows/*.yml") + self.glob(".github/workflows/*.yaml"):
            for job in _table(_table(self._load(path)).get("jobs")).values():
                steps = _table(job).get("steps")
                for step in steps if isinstance(steps, list) else []:
                    if isinstance(run := _table(step).get("run"), str):
                        for command in run.splitlines():
                            yield path, command
        for job in _table(self._load(".gitlab-ci.yml")).values():
            for key in ("before_script", "script", "after_script"):
                for command in _flatten(_table(job).get(key)):
                    yield ".gitlab-ci.yml", command

    def _make_recipe(self, target: str) -> list[Line]:
        """The recipe lines of a Makefile target, which CI often runs instead of the tool."""
        recipe: list[Line] = []
        inside = False
        for number, text in enumerate(self._lines("Makefile"), start=1):
            if text.startswith("\t"):
                if inside:
                    recipe.append(Line("Makefile", number, text))
            elif header := re.match(r"([\w.\s-]+):(?!=)", text):
                inside = target in header.group(1).split()
        return recipe

    def _find_config(self, item: dict[str, str]) -> str | None:
        data = self._load(item["file"])
        for key in item["key"].split("."):
            if not isinstance(data, dict) or key not in data:
                return None
            data = data[key]
        last = re.escape(item["key"].split(".")[-1])
        return str(self._locate(item["file"], re.compile(rf"^\s*[\"']?{last}[\"']?\s*[:=]")))


def _describe(kind: str, items: list[Any]) -> str:
    """What was looked for and not found."""
    if kind == "dependencies":
        return f"no dependency on {', '.join(items)}"
    if kind == "ci_runs":
        return f"no CI step runs {', '.join(items)}"
    if kind == "approval_gate":
        return "no workflow shows a deploy that waits for a person's approval"
    if kind == "config":
        return ", ".join(f"no {item['key']} in {item['file']}" for item in items)
    return f"nothing matches {', '.join(items)}"


def _normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them: great_expectations is great-expectations."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(spec: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    return match.group(1) if match else ""


def _pyproject_requirements(pyproject: dict[str, Any]) -> Iterator[str]:
    """PEP 621 dependencies, extras and dependency groups, and Poetry's tables."""
    project = _table(pyproject.get("project"))
    yield from _flatten(project.get("dependencies"))
    yield from _flatten(_table(project.get("optional-dependencies")))
    for group in _table(pyproject.get("dependency-groups")).values():
        if isinstance(group, list):
            # Skip {include-group = "..."}: it names a group, not a package.
            yield from (spec for spec in group if isinstance(spec, str))
    poetry = _table(_table(pyproject.get("tool")).get("poetry"))
    yield from _table(poetry.get("dependencies"))
    yield from _table(poetry.get("dev-dependencies"))
    for group in _table(poetry.get("group")).values():
        yield from _table(_table(group).get("dependencies"))


def _table(value: Any) -> dict[str, Any]:
    """A mapping from a parsed file, or an empty one where the file holds something else."""
    return value if isinstance(value, dict) else {}


def _flatten(items: Any) -> Iterator[str]:
    """The strings of a list that may nest lists and {pip: [...]} mappings, as CI and conda do."""
    if isinstance(items, str):
        yield items
    elif isinstance(items, list):
        for item in items:
            yield from _flatten(item)
    elif isinstance(items, dict):
        for value in items.values():
            yield from _flatten(value)


def _runs(command: str, word: re.Pattern[str]) -> bool:
    """Whether a shell line runs the word, not merely installs it."""
    return any(
        word.search(part) and not INSTALL.search(part) for part in SHELL_SEPARATOR.split(command)
    )


def _make_targets(command: str) -> list[str]:
    return [target for match in MAKE.finditer(command) for target in match.group(1).split()]
