"""Every call into Copier: its warning filter, and its errors as the CLI reports them.

Copier refusing an answer (a validator of copier.yml, a value of the wrong
type) raises ValueError: that is `AnswerRefused`, the user's to fix. Anything
else is `Failed`. An update whose changes conflict with the user's returns the
conflicted files, for the caller to report (`Conflict`) or undo.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlops_levels import git
from mlops_levels.errors import AnswerRefused, Failed, reason
from mlops_levels.template_source import TemplateSource

# Copier's `--vcs-ref :current:`: the template version the project records.
CURRENT = ":current:"
# The lines Copier writes around each side of a conflict (conflict="inline").
MARKERS = {b"<<<<<<< before updating", b">>>>>>> after updating"}


def copy(
    template: TemplateSource,
    dest: Path,
    data: dict[str, Any],
    *,
    defaults: bool = True,
    overwrite: bool = False,
) -> None:
    """Render `template` into `dest` with the answers in `data`."""
    # Copier, prompt_toolkit and Jinja take most of a second to import: only copies need them.
    from copier import run_copy

    with _calling_copier():
        run_copy(
            template.url,
            # Copier refuses to read the answers file (the level guard's external
            # data) through a path that climbs out of the folder, such as ../project.
            dest.resolve(),
            data=data,
            vcs_ref=template.ref,
            defaults=defaults,
            overwrite=overwrite,
            quiet=True,
        )


def update(project: Path, data: dict[str, Any], *, ref: str | None, defaults: bool) -> list[str]:
    """Update `project` to template version `ref` (CURRENT: the one it records) with `data`
    changed; the files left conflicted, with Copier's inline markers, if any."""
    from copier import VcsRef, run_update

    with _calling_copier():
        run_update(
            project,
            data=data,
            # run_update takes the enum, not the CLI's string, for the recorded version.
            vcs_ref=VcsRef.CURRENT if ref == CURRENT else ref,
            # At a terminal, ask only the questions the project has no answer for yet.
            defaults=defaults,
            skip_answered=True,
            overwrite=True,
            conflict="inline",
            quiet=True,
        )
    return conflicts(project)


def conflicts(project: Path) -> list[str]:
    """The files an update left conflicted: unmerged in the index, or holding markers."""
    marked = {
        name
        for name in git.changed(project)
        if name.endswith(".rej") or _has_markers(project / name)
    }
    return sorted(git.unmerged(project) | marked)


def _has_markers(file: Path) -> bool:
    if not file.is_file():
        return False
    return any(line.rstrip() in MARKERS for line in file.read_bytes().splitlines())


@contextmanager
def _calling_copier() -> Iterator[None]:
    from copier.errors import MissingFileWarning

    with warnings.catch_warnings():
        # Copier renders into folders that have no answers file yet: a new project's, and
        # the old and new versions an update compares. The level guard expects that.
        warnings.simplefilter("ignore", MissingFileWarning)
        try:
            yield
        except ValueError as error:
            raise AnswerRefused(str(error).strip()) from error
        except Exception as error:
            raise Failed(reason(error)) from error
