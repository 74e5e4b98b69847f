"""The prediction log's SQLite file, known by its path and its identity.

An open SQLite connection writes to the file it opened, wherever its name
goes: after `rm` of the database, or a copy moved over it, every later row
would go to an inode that no one can read any more. The writer compares the
file at the path with the one it opened before each write, and opens the path
again when they differ, so a deleted log is created again and a replaced one is
written to from then on.
"""

import os
from pathlib import Path

import sqlalchemy as sa

# What names a file on a machine, whatever its name: (st_dev, st_ino).
Identity = tuple[int, int]


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for another database or an in-memory one."""
    parsed = sa.make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database)


def identity(path: Path) -> Identity | None:
    """The file at `path` as the system knows it, or None if there is none."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_dev, status.st_ino


class WatchedFile:
    """The file a connection opened, to tell when its path names another one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._opened: Identity | None = None

    def opened(self) -> None:
        """The connection now writes to the file at the path."""
        self._opened = identity(self.path)

    def change(self) -> str:
        """How the path changed since `opened`: "", "vanished" or "was replaced".

        A change is told once: the file is taken as closed until `opened` again.
        """
        if self._opened is None:
            return ""
        current = identity(self.path)
        if current == self._opened:
            return ""
        self._opened = None
        return "vanished" if current is None else "was replaced"
