"""One retrain at a time per registry model: an OS file lock.

Two retrains of the same model would register two challengers and race to
move one alias, and on one machine they would share files. The lock is the
operating system's (flock): the kernel releases it when its holder ends, even
killed, so it never goes stale. For a SQLite registry it sits next to the
database file, so it covers every checkout that uses that file. For a
tracking server it sits in this machine's temporary folder, named after the
server and the model: it covers every retrain started on this machine (a
laptop, a cron job). MLflow offers no atomic test-and-set that a lock in the
registry itself could rest on, so across machines the runs must come from one
place: CI, whose retrain workflow runs one at a time (its concurrency group).
"""

import fcntl
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ..config import Settings
from ..tracking import tracking_uri

PACKAGE = __package__.rpartition(".")[0]
SQLITE = "sqlite:///"


class RetrainRunning(Exception):
    """Another retrain of the same registry model holds the lock."""


def lock_file(settings: Settings) -> Path:
    """Where the lock of this registry model lives (see the module's docstring)."""
    uri = tracking_uri(settings.root)
    name = settings.registry.model_name
    if uri.startswith(SQLITE):
        database = Path(uri.removeprefix(SQLITE).partition("?")[0])
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        return database.with_name(f"{database.name}.retrain-{safe}.lock")
    key = hashlib.sha256(f"{uri}\n{name}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"{PACKAGE}-retrain-{key}.lock"


@contextmanager
def retrain_lock(settings: Settings) -> Iterator[Path]:
    """Hold the model's lock for the block; RetrainRunning, at once, if another
    process holds it. The file stays: deleting it would let two runs lock two
    different files of one name."""
    path = lock_file(settings)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "a process that has just started"
            raise RetrainRunning(
                f"another retrain of model '{settings.registry.model_name}' is "
                f"running ({holder}; lock {path}): let it finish, then run "
                "retrain again if its decision does not settle it"
            ) from None
        handle.seek(0)
        handle.truncate()
        started = datetime.now(UTC).isoformat(timespec="seconds")
        handle.write(f"process {os.getpid()}, started {started}\n")
        handle.flush()
        yield path
