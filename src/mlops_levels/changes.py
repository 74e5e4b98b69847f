"""What differs between two rendered trees of the template: files added, changed, removed."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cached_property

ADDED, CHANGED, REMOVED = "added", "changed", "removed"

Tree = dict[str, bytes]  # a rendered project: each file's path and bytes


@dataclass
class Change:
    """One file that differs between the two levels."""

    path: str
    status: str
    old: bytes | None
    new: bytes | None

    @cached_property
    def texts(self) -> tuple[str, str] | None:
        """Both sides as text, empty where the file is absent; None if either is binary."""
        old, new = _text(self.old), _text(self.new)
        return None if old is None or new is None else (old, new)

    @property
    def binary(self) -> bool:
        return self.texts is None

    @cached_property
    def patch(self) -> list[str]:
        """The unified diff of this file, headers included, as `git apply` reads it."""
        old_name = "/dev/null" if self.status == ADDED else f"a/{self.path}"
        new_name = "/dev/null" if self.status == REMOVED else f"b/{self.path}"
        if self.texts is None:
            return [f"Binary files {old_name} and {new_name} differ"]
        old, new = (_lines_with_endings(text) for text in self.texts)
        lines = [f"--- {old_name}", f"+++ {new_name}"]
        for line in list(difflib.unified_diff(old, new))[2:]:
            if line.endswith("\n"):
                lines.append(line[:-1])
            else:
                lines += [line, "\\ No newline at end of file"]
        return lines

    @property
    def insertions(self) -> int:
        return sum(1 for line in self.patch[2:] if line.startswith("+"))

    @property
    def deletions(self) -> int:
        return sum(1 for line in self.patch[2:] if line.startswith("-"))


@dataclass(frozen=True)
class Comparison:
    """Two levels' renders, and the renders of any levels between them."""

    old: int
    new: int
    trees: dict[int, Tree]

    @cached_property
    def changes(self) -> list[Change]:
        return compare(self.trees[self.old], self.trees[self.new])

    @property
    def introduced(self) -> dict[str, int]:
        """For each changed path, the first level above the lower one at which it differs
        from the lower one; every level between the two must be rendered."""
        low, high = sorted((self.old, self.new))
        trees = self.trees
        return {
            change.path: next(
                level
                for level in range(low + 1, high + 1)
                if trees[level].get(change.path) != trees[low].get(change.path)
            )
            for change in self.changes
        }


def compare(old: Tree, new: Tree) -> list[Change]:
    """The files that differ, by path: added, changed or removed going from old to new."""
    changes = []
    for path in sorted(old.keys() | new.keys()):
        before, after = old.get(path), new.get(path)
        if before == after:
            continue
        status = ADDED if before is None else REMOVED if after is None else CHANGED
        changes.append(Change(path, status, before, after))
    return changes


def counts(changes: list[Change]) -> dict[str, int]:
    """How many files were added, changed and removed, and how many lines."""
    files = {
        status: sum(c.status == status for c in changes) for status in (ADDED, CHANGED, REMOVED)
    }
    return files | {
        "insertions": sum(change.insertions for change in changes),
        "deletions": sum(change.deletions for change in changes),
    }


def summary(changes: list[Change]) -> str:
    if not changes:
        return "no differences"
    total = counts(changes)
    return (
        f"{len(changes)} files differ: {total[ADDED]} added, {total[CHANGED]} changed, "
        f"{total[REMOVED]} removed; +{total['insertions']} -{total['deletions']} lines"
    )


def _lines_with_endings(text: str) -> list[str]:
    """Lines split on newlines only, as diff and git split them, each keeping its newline."""
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def _text(content: bytes | None) -> str | None:
    """A file's text; empty for a missing file, None for a binary one."""
    if content is None:
        return ""
    if b"\0" in content:
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None
