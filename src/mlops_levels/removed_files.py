"""Keep the user's edits in files that a template update removes.

When a template version moves code to other files, `copier update` deletes
the old files, edited or not: its three-way merge has no file to merge the
user's changes into. A user who added a function to a module that moved would
lose it without a word. So after each update we put back every removed file
that differs from what the old template version generated, and the upgrade
stops there for the user to carry their changes over.
"""

from __future__ import annotations

import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any

import yaml


def keep_edited(path: Path, answers_before: str) -> list[str]:
    """Restore the files the update removed that the user had changed; return them.

    `answers_before` is the answers file as committed before the update: it
    names the template version and answers that generated the old files.
    """
    removed = [name for name in _git(path, "ls-files", "-z", "--deleted").split(b"\0") if name]
    if not removed:
        return []
    with tempfile.TemporaryDirectory(prefix="mlops-levels-old-") as scratch:
        generated = _render(Path(scratch), yaml.safe_load(answers_before))
        edited = [
            name.decode()
            for name in removed
            if _git(path, "show", b"HEAD:./" + name) != _read(generated / name.decode())
        ]
    if edited:
        _git(path, "checkout", "HEAD", "--", *edited)
    return edited


def _render(folder: Path, answers: dict[str, Any]) -> Path:
    """What the recorded template version generates for the recorded answers."""
    from copier import run_copy
    from copier.errors import MissingFileWarning

    with warnings.catch_warnings():
        # The empty folder has no answers file for the level guard to read.
        warnings.simplefilter("ignore", MissingFileWarning)
        run_copy(
            answers["_src_path"],
            folder,
            data={key: value for key, value in answers.items() if not key.startswith("_")},
            vcs_ref=answers["_commit"],
            defaults=True,
            overwrite=True,
            quiet=True,
        )
    return folder


def _git(path: Path, *args: str | bytes) -> bytes:
    return subprocess.run(["git", "-C", str(path), *args], capture_output=True, check=True).stdout


def _read(file: Path) -> bytes | None:
    return file.read_bytes() if file.is_file() else None
