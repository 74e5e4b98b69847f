"""Keep the user's edits in files that a template update removes.

When a template version moves code to other files, `copier update` deletes
the old files, edited or not: its three-way merge has no file to merge the
user's changes into. A user who added a function to a module that moved would
lose it without a word. So after each update we put back every removed file
that differs from what the old template version generated, and the upgrade
stops there for the user to carry their changes over.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from mlops_levels import copier_calls, git
from mlops_levels.answers import Answers
from mlops_levels.template_source import TemplateSource


def keep_edited(path: Path, before: Answers) -> list[str]:
    """Restore the files the update removed that the user had changed; return them.

    `before` is the answers file as committed before the update: it names the
    template version and answers that generated the old files.
    """
    removed = git.deleted(path)
    if not removed:
        return []
    with tempfile.TemporaryDirectory(prefix="mlops-levels-old-") as scratch:
        generated = Path(scratch)
        # What the recorded template version generates for the recorded answers.
        template = TemplateSource(before.source, before.required_version())
        copier_calls.copy(template, generated, {**before.given, "level": before.values["level"]})
        edited = [name for name in removed if git.committed(path, name) != _read(generated / name)]
    if edited:
        git.git(path, "checkout", "HEAD", "--", *edited)
    return edited


def _read(file: Path) -> bytes | None:
    return file.read_bytes() if file.is_file() else None
