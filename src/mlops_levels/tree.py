"""A folder as assess reads it: every path in it, and its files' text and data, within limits.

Any tree, however hostile, is read in a bounded run: folders walked without recursion to a
depth limit, files once each and to a size limit, YAML aliases bounded; what cannot be read
becomes a warning that says why, never an error.
"""

from __future__ import annotations

import functools
import json
import os
import re
import tomllib
from bisect import bisect_left
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from mlops_levels.bounded_yaml import BoundedLoader

# Folders that hold tools' state or installed packages, never the project's own work;
# .devcontainer is an editor's development image, not the project's service; and
# installed, vendored or built copies of code, not the project's own.
SKIPPED_NAMES = {
    *(".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".eggs"),
    *(".ipynb_checkpoints", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache"),
    *(".devcontainer", "site-packages", "vendor", "vendored", "third_party", "build", "dist"),
}
SKIPPED_PATHS = {".dvc/cache", ".dvc/tmp"}
ENVIRONMENT_MARKERS = ("pyvenv.cfg", "conda-meta")  # an environment's, whatever its name

# Limits that keep any tree, however hostile, to a bounded run: folders nested
# deeper than this are not looked into, and a file is read up to this many bytes
# (YAML aliases are bounded in bounded_yaml.py).
MAX_DEPTH = 64
MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class Line:
    """One line of a file, as evidence shows it."""

    path: str
    number: int
    text: str

    def __str__(self) -> str:
        text = self.text.strip()
        return f"{self.path}:{self.number}: {text if len(text) <= 120 else text[:117] + '...'}"


class Tree:
    """The files under `root`, and what could not be read of them."""

    def __init__(self, root: Path, parent: Tree | None = None) -> None:
        # `parent`: the tree that sub-project `root` is in; its one walk and reads serve both.
        self.root = root
        self._base = self if parent is None else parent._base
        self._prefix = "" if parent is None else f"{root.relative_to(self._base.root).as_posix()}/"
        # What could not be read, and why: shown with the assessment, never dropped.
        self.warnings: dict[str, str] = self._base.warnings if parent else {}
        self._read: dict[str, str] = {}
        self._globbed: dict[str, list[str]] = {}
        self._not_text: set[str] = set()  # missing, unreadable or binary files
        # The repository's root above with its CI: its tree, this folder's path in it, and
        # the `../` that shows the root's paths from here ("" in a view: the parent's paths).
        self.repository: tuple[Tree, str, str] | None = None

    @property
    def outer(self) -> tuple[Tree, str, str] | None:
        """The tree around this folder whose root holds CI (see `repository`)."""
        return self.repository if self._base is self else (self._base, self._prefix[:-1], "")

    def warn(self, path: str, why: str) -> None:
        if self._base is not self:  # a view's path is in its folder; warnings are the parent's
            path = self._prefix.rstrip("/") if path == "." else self._prefix + path
        self.warnings.setdefault(path, why)

    @cached_property
    def _paths(self) -> tuple[list[str], set[str]]:
        """Every file and folder, as sorted posix paths relative to the root: an explicit
        stack, not os.walk, which recurses (a thousand nested folders must not overflow)."""
        if self._base is not self:
            files, folders = self._base._sorted
            files = sorted(_inside(files, self._prefix), key=lambda path: (path.count("/"), path))
            return files, set(_inside(folders, self._prefix))
        files: list[str] = []
        folders: set[str] = set()
        stack = [("", self.root)]
        while stack:
            prefix, folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError as error:
                self.warn(prefix.rstrip("/") or ".", _reason(error))
                continue
            for entry in entries:
                path = f"{prefix}{entry.name}"
                try:
                    # Symlinked folders are not followed (no cycles); a link to a file
                    # counts as that file, and a dangling link as nothing.
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name in SKIPPED_NAMES or path in SKIPPED_PATHS:
                            continue
                        if _is_environment(entry.path):
                            continue
                        if path.count("/") >= MAX_DEPTH:
                            self.warn(path, f"deeper than {MAX_DEPTH} folders: not looked into")
                            continue
                        folders.add(path)
                        stack.append((f"{path}/", entry.path))
                    elif entry.is_file():
                        files.append(path)
                except OSError as error:
                    self.warn(path, _reason(error))
        # Shallow paths first: they make the clearest evidence.
        return sorted(files, key=lambda path: (path.count("/"), path)), folders

    @cached_property
    def _sorted(self) -> tuple[list[str], list[str]]:
        """Files and folders in plain order: those in one folder are a slice (views' paths)."""
        return sorted(self._paths[0]), sorted(self._paths[1])

    @cached_property
    def _by_name(self) -> dict[str, list[int]]:
        """Each file name, with the indices in `_paths` of the files of that name."""
        names: dict[str, list[int]] = {}
        for index, path in enumerate(self._paths[0]):
            names.setdefault(path.rsplit("/", 1)[-1], []).append(index)
        return names

    def glob(self, pattern: str) -> list[str]:
        """Paths matching a glob: `*` stays within a folder, `**/` spans any depth."""
        if pattern not in self._globbed:
            files, folders = self._paths
            if pattern.endswith("/"):
                regex = _glob_regex(pattern.rstrip("/"))
                found = sorted(path + "/" for path in folders if regex.fullmatch(path))
            else:
                # Names first, each distinct one once: not every pattern on each of 200,000 paths.
                last = pattern.rsplit("/", 1)[-1]
                # `**` in a name spans folders: then any name may end a match.
                name = _glob_regex(last if "**" not in last else "**")
                regex = _glob_regex(pattern)
                held = (i for n, ids in self._by_name.items() if name.fullmatch(n) for i in ids)
                found = [files[i] for i in sorted(held) if regex.fullmatch(files[i])]
            self._globbed[pattern] = found
        return self._globbed[pattern]

    def text(self, path: str) -> str:
        """A text file's text, read once per run and only up to MAX_BYTES."""
        if self._base is not self:
            return self._base.text(self._prefix + path)
        if path not in self._read:
            self._read[path] = self._read_text(path)
        return self._read[path]

    def lines(self, path: str) -> list[str]:
        return self.text(path).splitlines()

    def is_text(self, path: str) -> bool:
        """Whether a file is readable text: binary junk under a known name is no evidence."""
        base, path = self._base, self._prefix + path
        base.text(path)
        return path not in base._not_text

    def _read_text(self, path: str) -> str:
        file = os.path.join(self.root, path)  # a string: Path objects cost, on 200,000 files
        # Only regular files: a name pointing at a device or a pipe would never finish reading.
        if not os.path.isfile(file):
            self._not_text.add(path)
            return ""
        try:
            with open(file, "rb") as stream:
                data = stream.read(MAX_BYTES + 1)
        except OSError as error:
            self._not_text.add(path)
            self.warn(path, _reason(error))
            return ""
        if len(data) > MAX_BYTES:
            self.warn(path, f"larger than {MAX_BYTES >> 20} MiB: only its start was read")
            data = data[: data.rfind(b"\n", 0, MAX_BYTES) + 1]
        try:
            if b"\0" in data:
                raise UnicodeDecodeError("utf-8", data, 0, 1, "a NUL byte")
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self._not_text.add(path)
            self.warn(path, "not UTF-8 text")
            return ""

    def locate(self, path: str, pattern: re.Pattern[str]) -> Line | str:
        """The first line of a file that matches, or the file itself when none does."""
        text = self.text(path)
        # One search of the whole text rules out most files at once; CR line ends would
        # hide a `$` from it, so those files are searched line by line.
        if "\r" not in text and not _multiline(pattern).search(text):
            return path
        for number, line in enumerate(text.splitlines(), start=1):
            if pattern.search(line):
                return Line(path, number, line)
        return path

    def load(self, path: str) -> Any:
        """A YAML, TOML or JSON file's data; None if missing or unparsed (a warning says why)."""
        text = self.text(path)
        if not text:
            return None
        try:
            if path.endswith(".toml") or path == "Pipfile":
                return tomllib.loads(text)
            if path.endswith(".json"):
                return json.loads(text)
            return yaml.load(text, Loader=BoundedLoader)  # safe: a SafeLoader subclass
        except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError) as error:
            self.warn(path, f"does not parse: {str(error).splitlines()[0]}")
        except RecursionError:
            self.warn(path, "nested too deeply to parse")
        return None


@functools.lru_cache(maxsize=256)
def _multiline(pattern: re.Pattern[str]) -> re.Pattern[str]:
    return re.compile(pattern.pattern, pattern.flags | re.MULTILINE)


def _reason(error: OSError) -> str:
    return f"could not be read: {error.strerror or error}"


def _is_environment(folder: str) -> bool:
    return any(os.path.exists(os.path.join(folder, name)) for name in ENVIRONMENT_MARKERS)


def _inside(paths: list[str], prefix: str) -> list[str]:
    """The sorted paths under folder `prefix` (which ends in `/`), relative to it."""
    start, end = bisect_left(paths, prefix), bisect_left(paths, prefix[:-1] + "0")  # "0" > "/"
    return [path[len(prefix) :] for path in paths[start:end]]


@functools.lru_cache(maxsize=4096)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern)
    wildcards = {"**/": "(?:[^/]+/)*", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wildcards.get(part, re.escape(part)) for part in parts))
