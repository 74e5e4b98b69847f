"""What `upgrade` checks before Copier runs, so that a refusal changes nothing."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from mlops_levels import __version__, git, ui
from mlops_levels.answers import ANSWERS_FILE, read_answers
from mlops_levels.errors import CLIError, Refused
from mlops_levels.ladder import Level
from mlops_levels.template_source import TemplateSource, prepare

# Template sources Copier fetches rather than reads from a folder.
REMOTE = re.compile(r"^([\w+.-]+://|gh:|gl:|[\w.-]+@[\w.-]+:)")
SHOWN_DIRTY_LINES = 10


@dataclass(frozen=True)
class Generated:
    """A generated project, as its answers file records it."""

    path: Path
    level: int
    source: str  # the template's location
    version: str  # the template's version


def inspect(path: Path, ladder: tuple[Level, ...], *, dry_run: bool) -> Generated:
    """The project at `path`, refusing one that an upgrade cannot start from."""
    if not path.is_dir():
        raise CLIError(f"{path} is not a folder: give the folder of the project to upgrade.")
    answers = read_answers(path)
    level, source = answers.level(len(ladder)), answers.source
    project = Generated(path, level, source, answers.required_version())
    if not git.succeeds(path, "rev-parse", "--show-toplevel"):
        raise Refused(
            f"{path} is not a git repository. Copier merges the template's changes with "
            "yours through git, and each step is a commit. Make it one first:\n"
            "  git init && git add -A && git commit -m 'Start'"
        )
    if not git.resolve(path, "HEAD"):
        raise Refused(
            f"{path} has no commit yet. Commit it first:\n  git add -A && git commit -m 'Start'"
        )
    _check_clean(path, dry_run=dry_run)
    git_dir = Path(git.git(path, "rev-parse", "--absolute-git-dir").strip())
    read_only = [folder for folder in (path, git_dir) if not os.access(folder, os.W_OK)]
    if read_only and not dry_run:
        where = "" if read_only[0] == path else f" (its git folder {read_only[0]} is)"
        raise Refused(
            f"{path} is read-only{where}, and each step writes the new level's files and "
            "commits them. Make it writable, or preview the upgrade with --dry-run."
        )
    return project


def _check_clean(path: Path, *, dry_run: bool) -> None:
    """Refuse uncommitted changes; a dry run, which starts from the last commit, warns."""
    dirty = git.status(path)
    if not dirty:
        return
    shown = "\n".join(f"  {line}" for line in dirty[:SHOWN_DIRTY_LINES])
    more = len(dirty) - SHOWN_DIRTY_LINES
    shown += f"\n  ... and {more} more" if more > 0 else ""
    if not dry_run:
        raise Refused(
            f"{path} has uncommitted changes (git status):\n{shown}\n"
            "Each step must start from a clean tree so that it can be merged, committed "
            "and undone on its own. Commit them (git add -A && git commit) or stash them "
            "(git stash -u), then upgrade again."
        )
    ui.progress(
        f"{path} has uncommitted changes; the dry run starts from the last commit, and "
        f"the upgrade itself will refuse until they are committed or stashed:\n{shown}"
    )


def levels_to_walk(
    project: Generated, ladder: tuple[Level, ...], target: int | None, *, template: bool
) -> list[int]:
    """The level after each step: the next one, each one up to `target`, or, to take a
    newer `template` version, the project's own."""
    current = project.level
    if template:
        return [current]
    top = len(ladder) - 1
    if target is None:
        if current >= top:
            raise Refused(
                f"{project.path} is already at the top level, {ui.level_name(ladder[top])}. "
                "`mlops-levels upgrade --template` takes newer template versions at this level."
            )
        target = current + 1
    if target < current:
        raise Refused(
            f"{project.path} is at level {ui.level_name(ladder[current])}, above level "
            f"{ui.level_name(ladder[target])}: downgrades are not supported. To go back, "
            "revert the upgrade commits with git."
        )
    return list(range(current + 1, target + 1))


def template_source(project: Generated) -> TemplateSource:
    """Bring the template cache up to date and check that the project's version is in reach."""
    ui.progress("Preparing the template")
    source = prepare()
    if REMOTE.match(project.source):
        return source  # Copier fetches it; it reports a repository or version it cannot find
    folder = Path(project.source).expanduser()
    problem = None
    if not folder.is_dir():
        problem = "that folder does not exist"
    elif not git.resolve(folder, f"{project.version}^{{commit}}"):
        problem = f"it has no version {project.version}"
    if problem:
        raise Refused(
            f"The template source cannot be found: {project.path} records template version "
            f"{project.version} in {project.source}, and {problem}. The project was probably "
            f"generated by another version of mlops-levels (this is {__version__}, with "
            f"template {source.ref}): upgrade it with that version, or point _src_path in "
            f"{ANSWERS_FILE} at a clone of the template that has the tag {project.version}."
        )
    return source


def newest_version(project: Generated, source: TemplateSource) -> str | None:
    """The template version `--template` moves to: this CLI's own, if the project records
    this CLI's template cache; otherwise the newest tag of the template it records."""
    recorded = Path(project.source).expanduser()
    if not REMOTE.match(project.source) and recorded.resolve() == source.path.resolve():
        return source.ref
    return None
