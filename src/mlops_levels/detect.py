"""Evaluate the entry criteria of levels/ against a folder: its files, dependencies, CI and config.

A criterion's `detect` rule lists alternatives of four kinds: `files` (globs
relative to the folder; a trailing `/` means a folder), `dependencies` (names
declared in pyproject.toml, requirements files, environment.yml or Pipfile),
`ci_runs` (words a CI step runs) and `config` (a dotted key in a YAML, TOML or
JSON file). One alternative found is enough, or every one with `all: true`.
A criterion with a `question` instead is put to a person.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

Criterion = dict[str, Any]

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"

# Folders that hold tools' state or installed packages, never the project's own work.
SKIPPED_NAMES = {
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    ".ipynb_checkpoints",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
}
SKIPPED_PATHS = {".dvc/cache", ".dvc/tmp"}

# Limits that keep any tree, however hostile, to a bounded run: folders nested
# deeper than this are not looked into, a file is read up to this many bytes, and
# a YAML file whose aliases expand to more values than this is not read (an alias
# bomb: ten lines expand to billions).
MAX_DEPTH = 64
MAX_BYTES = 1 << 20
MAX_YAML_VALUES = 100_000

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


@dataclass(frozen=True)
class Line:
    """One line of a file, as evidence shows it."""

    path: str
    number: int
    text: str

    def __str__(self) -> str:
        text = self.text.strip()
        return f"{self.path}:{self.number}: {text if len(text) <= 120 else text[:117] + '...'}"


class Project:
    """A folder being assessed, and a way to ask a person what no file can show."""

    def __init__(self, root: Path, ask: Callable[[Criterion], bool | None]) -> None:
        self.root = root
        self.ask = ask  # True, False, or None when nobody answers
        # What could not be read, and why: shown with the assessment, never dropped.
        self.warnings: dict[str, str] = {}
        self._read: dict[str, list[str]] = {}

    def warn(self, path: str, why: str) -> None:
        self.warnings.setdefault(path, why)

    def evaluate(self, criterion: Criterion) -> Finding:
        """Apply the criterion's rule from levels/: its detection, or its question."""
        if "question" in criterion:
            return self._answer(criterion)
        rule = criterion["detect"]
        finders: dict[str, Callable[[Any], str | None]] = {
            "files": self._find_file,
            "dependencies": self._find_dependency,
            "ci_runs": self._find_ci_run,
            "config": self._find_config,
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

    def _answer(self, criterion: Criterion) -> Finding:
        answer = self.ask(criterion)
        if answer is None:
            return Finding(UNKNOWN, f"no file can show it; not answered: {criterion['question']}")
        return Finding(PASS if answer else FAIL, f"answered {'yes' if answer else 'no'}")

    # --- What is in the folder --------------------------------------------------

    @cached_property
    def _tree(self) -> tuple[list[str], set[str]]:
        """Every file and folder, as sorted posix paths relative to the root.

        An explicit stack rather than os.walk, which recurses: a tree nested a
        thousand folders deep must not exhaust Python's stack.
        """
        files: list[str] = []
        folders: set[str] = set()
        stack = [("", self.root)]
        while stack:
            prefix, folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError as error:
                self.warn(prefix or ".", _reason(error))
                continue
            for entry in entries:
                path = f"{prefix}{entry.name}"
                try:
                    # Symlinked folders are not followed (no cycles); a link to a file
                    # counts as that file, and a dangling link as nothing.
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name in SKIPPED_NAMES or path in SKIPPED_PATHS:
                            continue
                        if _is_environment(Path(entry.path)):
                            continue
                        if path.count("/") >= MAX_DEPTH:
                            self.warn(path, f"deeper than {MAX_DEPTH} folders: not looked into")
                            continue
                        folders.add(path)
                        stack.append((f"{path}/", Path(entry.path)))
                    elif entry.is_file():
                        files.append(path)
                except OSError as error:
                    self.warn(path, _reason(error))
        # Shallow paths first: they make the clearest evidence.
        return sorted(files, key=lambda path: (path.count("/"), path)), folders

    def glob(self, pattern: str) -> list[str]:
        """Paths matching a glob: `*` stays within a folder, `**/` spans any depth."""
        files, folders = self._tree
        if pattern.endswith("/"):
            regex = _glob_regex(pattern.rstrip("/"))
            return sorted(path + "/" for path in folders if regex.fullmatch(path))
        regex = _glob_regex(pattern)
        return [path for path in files if regex.fullmatch(path)]

    def _lines(self, path: str) -> list[str]:
        """A text file's lines, read once per run and only up to MAX_BYTES."""
        if path not in self._read:
            self._read[path] = self._read_lines(path)
        return self._read[path]

    def _read_lines(self, path: str) -> list[str]:
        file = self.root / path
        # Only regular files: a name pointing at a device or a pipe would never finish reading.
        if not file.is_file():
            return []
        try:
            with file.open("rb") as stream:
                data = stream.read(MAX_BYTES + 1)
        except OSError as error:
            self.warn(path, _reason(error))
            return []
        if len(data) > MAX_BYTES:
            self.warn(path, f"larger than {MAX_BYTES >> 20} MiB: only its start was read")
            data = data[: data.rfind(b"\n", 0, MAX_BYTES) + 1]
        try:
            return data.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            self.warn(path, "not UTF-8 text")
            return []

    def _locate(self, path: str, pattern: re.Pattern[str]) -> Line | str:
        """The first line of a file that matches, or the file itself when none does."""
        for number, text in enumerate(self._lines(path), start=1):
            if pattern.search(text):
                return Line(path, number, text)
        return path

    def _load(self, path: str) -> Any:
        """A YAML, TOML or JSON file's data, or None if it is missing or does not parse
        (with a warning that says why)."""
        lines = self._lines(path)
        if not lines:
            return None
        text = "\n".join(lines)
        try:
            if path.endswith(".toml") or path == "Pipfile":
                return tomllib.loads(text)
            if path.endswith(".json"):
                return json.loads(text)
            return yaml.load(text, Loader=_BoundedLoader)  # safe: a SafeLoader subclass
        except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError) as error:
            self.warn(path, f"does not parse: {str(error).splitlines()[0]}")
        except RecursionError:
            self.warn(path, "nested too deeply to parse")
        return None

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


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader for files nobody here wrote.

    It reads tags it does not know, such as GitLab CI's `!reference`, as plain
    data rather than refusing the whole file. It refuses an alias to a node that
    contains it (the data would be infinite), and aliases that expand to more than
    MAX_YAML_VALUES values in all.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._expanded = 0
        self._open: set[str] = set()  # anchors of the nodes being composed
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        anchor = event.anchor
        if isinstance(event, yaml.AliasEvent):
            if anchor in self._open:
                raise yaml.composer.ComposerError(f"the alias *{anchor} contains itself")
            node = super().compose_node(parent, index)
            self._expanded += self._size(node)
            if self._expanded > MAX_YAML_VALUES:
                raise yaml.composer.ComposerError(
                    f"its aliases expand to more than {MAX_YAML_VALUES:,} values"
                )
            return node
        if anchor is None:
            return super().compose_node(parent, index)
        self._open.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._open.discard(anchor)

    def _size(self, node: yaml.Node) -> int:
        """How many values a node stands for once every alias in it is expanded."""
        if id(node) not in self._sizes:
            if isinstance(node, yaml.SequenceNode):
                size = 1 + sum(self._size(item) for item in node.value)
            elif isinstance(node, yaml.MappingNode):
                size = 1 + sum(self._size(k) + self._size(v) for k, v in node.value)
            else:
                size = 1
            self._sizes[id(node)] = size
        return self._sizes[id(node)]


_BoundedLoader.add_multi_constructor(
    "!",
    lambda loader, _suffix, node: (
        loader.construct_mapping(node)
        if isinstance(node, yaml.MappingNode)
        else loader.construct_sequence(node)
        if isinstance(node, yaml.SequenceNode)
        else loader.construct_scalar(node)
    ),
)


def _reason(error: OSError) -> str:
    return f"could not be read: {error.strerror or error}"


def _is_environment(folder: Path) -> bool:
    """A virtual or conda environment, whatever its name."""
    return (folder / "pyvenv.cfg").is_file() or (folder / "conda-meta").is_dir()


def _glob_regex(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern)
    wildcards = {"**/": "(?:[^/]+/)*", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wildcards.get(part, re.escape(part)) for part in parts))


def _describe(kind: str, items: list[Any]) -> str:
    """What was looked for and not found."""
    if kind == "dependencies":
        return f"no dependency on {', '.join(items)}"
    if kind == "ci_runs":
        return f"no CI step runs {', '.join(items)}"
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
