"""`upgrade`'s steps: each one Copier update, then one commit, or undone if it fails.

A step that fails part-way is undone (it is not committed yet); a step whose
changes conflict with the user's stops the walk and leaves Copier's inline
markers for the user to resolve.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_levels import copier_calls, git, ui
from mlops_levels.answers import read_answers
from mlops_levels.errors import Conflict, as_cli_error
from mlops_levels.ladder import Level
from mlops_levels.lock import FIX, lock
from mlops_levels.removed_files import keep_edited

# Undoes an unfinished step. No -x: files git ignores (data, mlflow.db, .venv) stay.
ABANDON = "git reset --hard && git clean -fd"
# How the conflict report marks a file the user changed that the new template
# version no longer has: its code moved, and the user's changes must follow it.
MOVED = "yours; the template moved its code"


@dataclass(frozen=True)
class Step:
    """One Copier update, and the level the project has after it."""

    level: Level
    ref: str | None  # CURRENT, a tag, or None for the template's newest tag
    template: bool  # a template update at the same level, not a level step

    @property
    def title(self) -> str:
        if self.template:
            return f"newer template version at level {ui.level_name(self.level)}"
        return f"level {ui.level_name(self.level)}"


def walk(path: Path, steps: list[Step], data: dict[str, Any], *, ask: bool) -> None:
    """Run and commit each step in turn; stop at the first that conflicts (Conflict)."""
    for number, step in enumerate(steps, 1):
        ui.progress(f"Step {number} of {len(steps)}: {step.title}")
        began = time.perf_counter()
        try:
            conflicts = run_step(path, step, data, ask=ask)
        except KeyboardInterrupt:
            ui.progress(_undo(path))
            raise
        except Exception as error:
            failure = as_cli_error(error).within(f"The upgrade to {step.title}", then=_undo(path))
            raise failure from error
        if conflicts:
            raise Conflict(_conflict_report(path, step, conflicts, steps[-1]))
        head = git.git(path, "log", "-1", "--format=%h %s").strip()
        ui.progress(f"Committed {head} ({time.perf_counter() - began:.1f} s)")


def run_step(
    path: Path, step: Step, data: dict[str, Any], *, ask: bool, relock: bool = True
) -> list[str]:
    """Run one update in `path` and commit it; return the conflicted files instead, if any.

    The step's commit carries `uv.lock` refreshed for what the step added, so that
    the project's `uv sync --locked` (CI, the Dockerfile) installs it. A dry run
    skips that: its diff would be the lock's thousands of lines.
    """
    answers = data if step.template else {**data, "level": step.level["level"]}
    before = read_answers(path)
    conflicts = copier_calls.update(path, answers, ref=step.ref, defaults=not ask)
    conflicts += [f"{name} ({MOVED})" for name in keep_edited(path, before)]
    if conflicts:
        return conflicts
    if relock:
        ui.progress("Locking the dependencies (uv lock)")
        if problem := lock(path):
            ui.warn(
                f"uv.lock is not refreshed: {problem}. The step is committed without "
                f"it; CI's `uv sync --locked` fails until you run, in {path}:\n  {FIX}"
            )
    git.commit(path, message(path, step))
    return conflicts


def dry_run(path: Path, steps: list[Step], data: dict[str, Any], *, ask: bool) -> None:
    """Run the steps in a throwaway clone of the project's last commit and print the diff."""
    top = Path(git.git(path, "rev-parse", "--show-toplevel").strip())
    inside = path.resolve().relative_to(top.resolve())
    head = git.git(path, "rev-parse", "HEAD").strip()
    with tempfile.TemporaryDirectory(prefix="mlops-levels-upgrade-") as scratch:
        clone = Path(scratch, top.name)
        ui.progress(f"Dry run in a temporary clone of {path}; nothing changes there")
        git.git(Path(scratch), "clone", "--quiet", "--no-checkout", str(top), str(clone))
        git.git(clone, "checkout", "--quiet", "--detach", head)
        work = clone / inside
        conflicts: list[str] = []
        for number, step in enumerate(steps, 1):
            ui.progress(f"Step {number} of {len(steps)}: {step.title}")
            try:
                conflicts = run_step(work, step, data, ask=ask, relock=False)
            except Exception as error:
                doing = f"The dry run of the upgrade to {step.title}"
                failure = as_cli_error(error).within(doing, then=f"Nothing changed in {path}.")
                raise failure from error
            if conflicts:
                break
        git.git(work, "add", "--all", "--", ".")
        colour = "always" if ui.colour() else "never"
        patch = git.git(work, "diff", "--cached", f"--color={colour}", head)
        summary = git.git(work, "diff", "--cached", "--shortstat", head).strip()
    sys.stdout.write(patch)
    if conflicts:
        raise Conflict(
            f"the upgrade to {step.title} would stop with conflicts in:\n"
            + "\n".join(f"  {name}" for name in conflicts)
            + f"\nNothing changed in {path}."
        )
    print(
        f"Dry run: {summary or 'no changes'}. Nothing changed in {path}; run the "
        "same command without --dry-run to upgrade.",
        file=sys.stderr,
    )


def message(path: Path, step: Step) -> str:
    """The step's commit message."""
    if not step.template:
        return f"Upgrade to level {ui.level_name(step.level)}"
    return f"Update to template {read_answers(path).version} at level {ui.level_name(step.level)}"


def _undo(path: Path) -> str:
    """Undo a step that failed part-way, and say how that went.

    A step is not committed until it succeeds, and the tree was clean before
    it, so resetting to the last commit and removing what git does not know
    loses nothing of the user's; files that git ignores are left alone.
    """
    if git.undo(path):
        return (
            f"The step is undone: {path} is back at its last commit, and files git ignores, "
            "such as your data and mlflow.db, are kept."
        )
    return (
        f"Undoing the step failed too. Put the project back at its last commit with\n"
        f"  cd {path} && {ABANDON}\n"
        "which keeps files git ignores, such as your data and mlflow.db."
    )


def _conflict_report(path: Path, step: Step, conflicts: list[str], final: Step) -> str:
    count = f"{len(conflicts)} file{'s' if len(conflicts) > 1 else ''}"
    files = "\n".join(f"  {name}" for name in conflicts)
    then = (
        ""
        if step is final
        else f"\nThen continue with `mlops-levels upgrade --to {final.level['level']}`."
    )
    return (
        f"the upgrade to {step.title} stopped: the template's changes conflict "
        f"with yours in {count}:\n{files}\n"
        "Nothing of this step is committed, and nothing is lost.\n"
        + "\n".join(_explained(conflicts))
        + f"\nTo finish the step in {path}, lock what the step added and commit it:\n"
        f'  uv lock && git add -A && git commit -m "{message(path, step)}"{then}\n'
        f"To abandon the step instead, and get the project back as it was, run\n  {ABANDON}"
    )


def _explained(conflicts: list[str]) -> list[str]:
    """What each kind of conflict in the list means, and what to do about it."""
    moved = [name for name in conflicts if name.endswith(f"({MOVED})")]
    explained = []
    if len(moved) < len(conflicts):
        explained.append(
            'Each conflict shows your lines between "<<<<<<< before updating" and "=======", '
            'and the template\'s between "=======" and ">>>>>>> after updating"; edit the file '
            "to keep what you need and delete the markers."
        )
    if moved:
        explained.append(
            f"A file marked ({MOVED}) is one you changed that this template version no "
            "longer has; it is kept as you left it. Carry your changes over to where its code "
            "is now (`git status` lists the step's new files; README.md of mlops-levels maps "
            "old modules to new ones), then delete it with `git rm <file>`."
        )
    return explained
