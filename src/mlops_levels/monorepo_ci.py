"""A monorepo's CI as its sub-projects see it: the root's jobs that concern one of them.

CI lives at a repository's root (.github/workflows, .gitlab-ci.yml), however many
projects the repository holds. A root workflow concerns the sub-project in folder
P when it names P: in its `paths:` filters (then all its jobs do), or in one of a
job's strings, such as a `working-directory:`, a `cd P && ...` line, a GitLab
`changes:` rule, or a matrix value (`${{ matrix.x }}` filled in with each of them).
This holds for the projects `assess` finds in a folder, and for a folder given to
`assess` inside a repository whose root, above it, holds the CI.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from mlops_levels.approval import GITLAB_KEYWORDS
from mlops_levels.tree import Tree

MATRIX = re.compile(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}")
MAX_DEPTH = 32  # of a CI file's nesting, as the shell lines are read
CI_FOLDERS = {".github", ".circleci"}
MAX_CI_DEPTH = 3  # .github/actions/<name>/action.yml


class RepositoryCI(Tree):
    """A repository's root seen only for its CI files: its own files and those under
    .github/ and .circleci/, not the whole repository walked again."""

    @cached_property
    def _paths(self) -> tuple[list[str], set[str]]:
        files, folders = [], set()
        stack = [""]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(self.root / folder))
            except OSError:
                continue  # no CI is read there; the folder assessed says what it could not read
            for entry in entries:
                path = f"{folder}{entry.name}"
                try:
                    if entry.is_file():
                        files.append(path)
                    elif entry.is_dir(follow_symlinks=False) and _holds_ci(path):
                        folders.add(path)
                        stack.append(f"{path}/")
                except OSError:
                    continue  # as above
        return sorted(files, key=lambda path: (path.count("/"), path)), folders


def _holds_ci(folder: str) -> bool:
    return folder.split("/")[0] in CI_FOLDERS and folder.count("/") < MAX_CI_DEPTH


def repository_ci(folder: Path) -> tuple[Tree, str, str] | None:
    """The repository around `folder` when its root, above `folder`, holds CI: the root's
    CI tree, the folder's path in it, and the `../` that leads there from the folder."""
    here = folder.resolve()
    if os.path.lexists(here / ".git"):
        return None  # the folder is a repository's root itself
    for above in here.parents:
        # os.path's tests, not Path's: an unreadable .github is no CI, not a crash.
        if os.path.isdir(above / ".github" / "workflows") or os.path.isfile(
            above / ".gitlab-ci.yml"
        ):
            path = here.relative_to(above).as_posix()
            return RepositoryCI(above), path, "../" * (path.count("/") + 1)
        if os.path.lexists(above / ".git"):
            return None  # the repository's root, and no CI in it
    return None


def concerned_jobs(tree: Tree, path: str, folder: str) -> dict[str, Any]:
    """The jobs of CI file `path` in `tree` that concern the project in `folder`."""
    data = tree.load(path)
    if not isinstance(data, dict):
        return {}
    names = _names(folder)
    if "jobs" in data:  # GitHub Actions; YAML 1.1 reads the key `on` as true
        jobs = data["jobs"] if isinstance(data["jobs"], dict) else {}
        trigger = data.get("on", data.get(True))
        if any(names.search(text) for text in _strings(trigger)):
            return jobs
    else:  # GitLab: every top-level key but its keywords and templates is a job
        jobs = {
            key: job
            for key, job in data.items()
            if isinstance(job, dict) and str(key) not in GITLAB_KEYWORDS
            if not str(key).startswith(".")
        }
    return {str(key): job for key, job in jobs.items() if _concerns(job, names)}


def _concerns(job: Any, names: re.Pattern[str]) -> bool:
    """Whether one of a job's strings names the folder, its matrix values filled in."""
    matrix = _matrix(job)
    for text in _strings(job):
        if names.search(text):
            return True
        for key in MATRIX.findall(text):
            filled = (MATRIX.sub(str(value), text) for value in matrix.get(key, []))
            if any(names.search(candidate) for candidate in filled):
                return True
    return False


def _matrix(job: Any) -> dict[str, list[Any]]:
    """A GitHub job's matrix, each key with its values (scalars only)."""
    strategy = job.get("strategy") if isinstance(job, dict) else None
    matrix = strategy.get("matrix") if isinstance(strategy, dict) else None
    if not isinstance(matrix, dict):
        return {}
    return {
        str(key): [v for v in values if isinstance(v, str | int | float)]
        for key, values in matrix.items()
        if isinstance(values, list)
    }


def _names(folder: str) -> re.Pattern[str]:
    """A string naming the folder as a path: `P`, `./P`, `P/...`, `cd P`, `P/**`."""
    return re.compile(rf"(?:^|[\s'\"=:(,])(?:\./)?{re.escape(folder)}(?:/|$|[\s'\";&|),])")


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    """Every string in a CI file's data, keys included, to a depth limit."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield key
            yield from _strings(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, depth + 1)
