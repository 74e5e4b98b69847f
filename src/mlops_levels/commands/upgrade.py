"""`mlops-levels upgrade`: move a generated project up the ladder, one level per commit.

Each step is one Copier update at the template version the project records
(`--vcs-ref :current:`) with only the level changed, then one commit, "Upgrade
to level N (Name)". Everything that can refuse the upgrade is checked before
Copier runs, so a refusal changes nothing. A step that fails part-way is undone
(it is not committed yet); a step whose changes conflict with the user's stops
the walk and leaves Copier's inline markers for the user to resolve.
"""

from __future__ import annotations

import argparse
import os
import re
import runpy
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops_levels import __version__
from mlops_levels.answers import (
    ANSWERS_FILE,
    CorruptAnswers,
    level_number,
    load_answers,
    parse_data,
    recorded_level,
)
from mlops_levels.errors import CONFLICT, FAILED, OK, REFUSED, USAGE, CLIError
from mlops_levels.ladder import Level, describe, load_ladder
from mlops_levels.lock import FIX, lock
from mlops_levels.removed_files import keep_edited
from mlops_levels.template_source import TemplateSource, prepare

# Copier's `--vcs-ref :current:`: the template version the project records.
CURRENT = ":current:"
# The lines Copier writes around each side of a conflict (conflict="inline").
MARKERS = {b"<<<<<<< before updating", b">>>>>>> after updating"}
# Undoes an unfinished step. No -x: files git ignores (data, mlflow.db, .venv) stay.
ABANDON = "git reset --hard && git clean -fd"
# How the conflict report marks a file the user changed that the new template
# version no longer has: its code moved, and the user's changes must follow it.
MOVED = "yours; the template moved its code"
# Template sources Copier fetches rather than reads from a folder.
REMOTE = re.compile(r"^([\w+.-]+://|gh:|gl:|[\w.-]+@[\w.-]+:)")
SHOWN_DIRTY_LINES = 10

CommitHook = Callable[[Path, str], None]


@dataclass(frozen=True)
class Generated:
    """A generated project, as its answers file records it."""

    path: Path
    answers: dict[str, Any]

    @property
    def level(self) -> int:
        return self.answers["level"]

    @property
    def src_path(self) -> str:
        return str(self.answers["_src_path"])

    @property
    def version(self) -> str:
        return str(self.answers["_commit"])


@dataclass(frozen=True)
class Step:
    """One Copier update, and the level the project has after it."""

    level: Level
    ref: str | None  # CURRENT, a tag, or None for the template's newest tag
    template: bool  # a template update at the same level, not a level step

    @property
    def title(self) -> str:
        if self.template:
            return f"newer template version at level {_name(self.level)}"
        return f"level {_name(self.level)}"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "upgrade",
        help="move a generated project up one maturity level (or to --to N), one commit a step",
        description="Upgrade a project that mlops-levels (or Copier) generated to the next "
        "maturity level: a `copier update` at the template version it records, with only the "
        "level changed, committed as 'Upgrade to level N (Name)'. The project must be a clean "
        "git repository. Your edits are merged with the template's changes; where they "
        "conflict, the upgrade stops and lists the files to resolve.",
    )
    parser.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=Path("."),
        metavar="PATH",
        help="the project's folder (default: the current folder)",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--to",
        type=int,
        metavar="N",
        help="walk up to level N, one step and one commit per level; stop at the first conflict",
    )
    target.add_argument(
        "--template",
        action="store_true",
        help="stay at this level and take the template version this mlops-levels carries",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="run the upgrade in a throwaway clone and show its diff; change nothing",
    )
    parser.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="ask nothing: no confirmation, and the default for any question a new level asks",
    )
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="answer a question the new level asks, e.g. --data ci_provider=gitlab (repeatable)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    ladder = load_ladder()
    data = parse_data(args.data)
    if "level" in data:
        raise CLIError("--data level: give the level to reach with --to instead.")
    target = None if args.to is None else level_number(args.to, len(ladder))
    # Messages name the folder: "." would read badly in them.
    path = Path.cwd() if args.path == Path(".") else args.path
    project = _inspect(path, ladder, dry_run=args.dry_run)

    levels = [project.level] if args.template else _levels_to_walk(project, ladder, target)
    if not levels:
        print(f"{project.path} is already at level {describe(ladder[project.level])}")
        return OK
    source = _template_source(project)
    ref = _newest_version(project, source) if args.template else CURRENT
    if args.template and ref == project.version:
        print(f"{project.path} already has template version {ref}, the one this mlops-levels has.")
        return OK
    steps = [Step(ladder[level], ref, template=args.template) for level in levels]
    commit: CommitHook = runpy.run_path(str(source.path / "hooks" / "post_copy.py"))["commit"]
    ask = not args.yes and _at_terminal()

    if args.dry_run:
        return _dry_run(project, steps, data, ask=ask, commit=commit)
    if args.template:
        plan = f"Update {project.path} to template {ref or 'its newest version'}"
    else:
        count = f"{len(steps)} step{'s' if len(steps) > 1 else ''}, one commit each"
        plan = f"Upgrade {project.path} from level {_name(ladder[project.level])} to "
        plan += f"{steps[-1].title} ({count})"
    _progress(plan)
    if ask and not _confirm(f"{plan}?"):
        print("Nothing changed.")
        return OK
    return _upgrade(project, steps, data, ladder, ask=ask, commit=commit)


# --- Checks that run before Copier -----------------------------------------------


def _inspect(path: Path, ladder: tuple[Level, ...], *, dry_run: bool) -> Generated:
    """The project at `path`, refusing one that an upgrade cannot start from."""
    if not path.is_dir():
        raise CLIError(f"{path} is not a folder: give the folder of the project to upgrade.")
    project = Generated(path, _read_answers(path, len(ladder)))
    if not _git_ok(path, "rev-parse", "--show-toplevel"):
        raise CLIError(
            f"{path} is not a git repository. Copier merges the template's changes with "
            "yours through git, and each step is a commit. Make it one first:\n"
            "  git init && git add -A && git commit -m 'Start'",
            REFUSED,
        )
    if not _git_ok(path, "rev-parse", "--verify", "--quiet", "HEAD"):
        raise CLIError(
            f"{path} has no commit yet. Commit it first:\n  git add -A && git commit -m 'Start'",
            REFUSED,
        )
    dirty = _git(path, "status", "--porcelain").splitlines()
    if dirty:
        shown = "\n".join(f"  {line}" for line in dirty[:SHOWN_DIRTY_LINES])
        more = len(dirty) - SHOWN_DIRTY_LINES
        shown += f"\n  ... and {more} more" if more > 0 else ""
        if not dry_run:
            raise CLIError(
                f"{path} has uncommitted changes (git status):\n{shown}\n"
                "Each step must start from a clean tree so that it can be merged, committed "
                "and undone on its own. Commit them (git add -A && git commit) or stash them "
                "(git stash -u), then upgrade again.",
                REFUSED,
            )
        _progress(
            f"{path} has uncommitted changes; the dry run starts from the last commit, and "
            f"the upgrade itself will refuse until they are committed or stashed:\n{shown}"
        )
    git_dir = Path(_git(path, "rev-parse", "--absolute-git-dir").strip())
    read_only = [folder for folder in (path, git_dir) if not os.access(folder, os.W_OK)]
    if read_only and not dry_run:
        where = "" if read_only[0] == path else f" (its git folder {read_only[0]} is)"
        raise CLIError(
            f"{path} is read-only{where}, and each step writes the new level's files and "
            "commits them. Make it writable, or preview the upgrade with --dry-run.",
            REFUSED,
        )
    return project


def _read_answers(path: Path, count: int) -> dict[str, Any]:
    """The project's answers file as a mapping, refusing one that is missing or corrupt."""
    file = path / ANSWERS_FILE
    restore = (
        f"Restore it from git: `git log -- {ANSWERS_FILE}` lists the commits that changed it, "
        f"and `git checkout <commit> -- {ANSWERS_FILE}` brings one back"
    )
    if not file.is_file():
        raise CLIError(
            f"{path} has no {ANSWERS_FILE}, so there is nothing to upgrade from: the file "
            "records the template, its version and your answers. If mlops-levels generated "
            f"this project, {restore[0].lower()}{restore[1:]}. Otherwise `mlops-levels assess "
            f"{path}` says where the project stands.",
            REFUSED,
        )
    try:
        answers = load_answers(file)
        recorded_level(answers, count)
    except CorruptAnswers as error:
        raise CLIError(f"{file} is corrupt: {error}. {restore}.", REFUSED) from error
    for key in ("_src_path", "_commit"):
        if not answers.get(key):
            raise CLIError(
                f"{file} is corrupt: it does not record {key}, the template's "
                f"{'location' if key == '_src_path' else 'version'}. {restore}.",
                REFUSED,
            )
    return answers


def _levels_to_walk(project: Generated, ladder: tuple[Level, ...], target: int | None) -> list[int]:
    """The level after each step: the next one, or each one up to `target`."""
    current = project.level
    top = len(ladder) - 1
    if target is None:
        if current >= top:
            raise CLIError(
                f"{project.path} is already at the top level, {_name(ladder[top])}. "
                "`mlops-levels upgrade --template` takes newer template versions at this level.",
                REFUSED,
            )
        target = current + 1
    if target < current:
        raise CLIError(
            f"{project.path} is at level {_name(ladder[current])}, above level "
            f"{_name(ladder[target])}: downgrades are not supported. To go back, revert the "
            "upgrade commits with git.",
            REFUSED,
        )
    return list(range(current + 1, target + 1))


def _template_source(project: Generated) -> TemplateSource:
    """Bring the template cache up to date and check that the project's version is in reach."""
    _progress("Preparing the template")
    source = prepare()
    if REMOTE.match(project.src_path):
        return source  # Copier fetches it; it reports a repository or version it cannot find
    folder = Path(project.src_path).expanduser()
    problem = None
    if not folder.is_dir():
        problem = "that folder does not exist"
    elif not _git_ok(folder, "rev-parse", "--verify", "--quiet", f"{project.version}^{{commit}}"):
        problem = f"it has no version {project.version}"
    if problem:
        raise CLIError(
            f"The template source cannot be found: {project.path} records template version "
            f"{project.version} in {project.src_path}, and {problem}. The project was probably "
            f"generated by another version of mlops-levels (this is {__version__}, with "
            f"template {source.ref}): upgrade it with that version, or point _src_path in "
            f"{ANSWERS_FILE} at a clone of the template that has the tag {project.version}.",
            REFUSED,
        )
    return source


def _newest_version(project: Generated, source: TemplateSource) -> str | None:
    """The template version `--template` moves to: this CLI's own, if the project records
    this CLI's template cache; otherwise the newest tag of the template it records."""
    recorded = Path(project.src_path).expanduser()
    if not REMOTE.match(project.src_path) and recorded.resolve() == source.path.resolve():
        return source.ref
    return None


# --- The steps ---------------------------------------------------------------------


def _upgrade(
    project: Generated,
    steps: list[Step],
    data: dict[str, Any],
    ladder: tuple[Level, ...],
    *,
    ask: bool,
    commit: CommitHook,
) -> int:
    start = _git(project.path, "rev-parse", "HEAD").strip()
    for number, step in enumerate(steps, 1):
        _progress(f"Step {number} of {len(steps)}: {step.title}")
        began = time.perf_counter()
        try:
            conflicts = _run_step(project.path, step, data, ask=ask, commit=commit)
        except KeyboardInterrupt:
            _progress(_undo(project.path))
            raise
        except Exception as error:
            code = USAGE if isinstance(error, ValueError) else FAILED  # Copier refused an answer
            raise CLIError(
                f"The upgrade to {step.title} failed: {_reason(error)}\n{_undo(project.path)}",
                code,
            ) from error
        if conflicts:
            _report_conflicts(project.path, step, conflicts, steps[-1])
            return CONFLICT
        head = _git(project.path, "log", "-1", "--format=%h %s").strip()
        _progress(f"Committed {head} ({time.perf_counter() - began:.1f} s)")
    _report(project.path, ladder, steps[-1], start)
    return OK


def _run_step(
    path: Path,
    step: Step,
    data: dict[str, Any],
    *,
    ask: bool,
    commit: CommitHook,
    relock: bool = True,
) -> list[str]:
    """Run one update in `path` and commit it; return the conflicted files instead, if any.

    The step's commit carries `uv.lock` refreshed for what the step added, so that
    the project's `uv sync --locked` (CI, the Dockerfile) installs it. A dry run
    skips that: its diff would be the lock's thousands of lines.
    """
    answers = data if step.template else {**data, "level": step.level["level"]}
    answers_before = (path / ANSWERS_FILE).read_text(encoding="utf-8")
    _update(path, answers, step.ref, ask=ask)
    conflicts = _conflicts(path) + [
        f"{name} ({MOVED})" for name in keep_edited(path, answers_before)
    ]
    if conflicts:
        return conflicts
    if relock:
        _progress("Locking the dependencies (uv lock)")
        if problem := lock(path):
            _progress(
                f"warning: uv.lock is not refreshed: {problem}. The step is committed without "
                f"it; CI's `uv sync --locked` fails until you run, in {path}:\n  {FIX}"
            )
    commit(path, _message(path, step))
    return conflicts


def _update(path: Path, data: dict[str, Any], ref: str | None, *, ask: bool) -> None:
    from copier import VcsRef, run_update
    from copier.errors import MissingFileWarning

    with warnings.catch_warnings():
        # Copier renders the old and new versions in empty folders, which have no
        # answers file for the level guard to read; the guard expects that.
        warnings.simplefilter("ignore", MissingFileWarning)
        run_update(
            path,
            data=data,
            # run_update takes the enum, not the CLI's string, for the recorded version.
            vcs_ref=VcsRef.CURRENT if ref == CURRENT else ref,
            # At a terminal, ask only the questions the project has no answer for yet.
            defaults=not ask,
            skip_answered=True,
            overwrite=True,
            conflict="inline",
            quiet=True,
        )


def _message(path: Path, step: Step) -> str:
    if not step.template:
        return f"Upgrade to level {_name(step.level)}"
    return f"Update to template {_recorded_version(path)} at level {_name(step.level)}"


def _conflicts(path: Path) -> list[str]:
    """The files a step left conflicted: unmerged in the index, or holding conflict markers."""
    unmerged = {
        entry.split("\t", 1)[1]
        for entry in _git(path, "ls-files", "-z", "--unmerged").split("\0")
        if entry
    }
    changed = _git(path, "ls-files", "-z", "--modified", "--others", "--exclude-standard")
    marked = {
        name
        for name in changed.split("\0")
        if name and (name.endswith(".rej") or _has_markers(path / name))
    }
    return sorted(unmerged | marked)


def _has_markers(file: Path) -> bool:
    if not file.is_file():
        return False
    return any(line.rstrip() in MARKERS for line in file.read_bytes().splitlines())


def _undo(path: Path) -> str:
    """Undo a step that failed part-way, and say how that went.

    A step is not committed until it succeeds, and the tree was clean before
    it, so resetting to the last commit and removing what git does not know
    loses nothing of the user's; files that git ignores are left alone.
    """
    undone = all(
        _git_ok(path, *args)
        for args in (("reset", "--quiet", "--hard", "HEAD"), ("clean", "--quiet", "-fd", "--", "."))
    )
    if undone and not _git(path, "status", "--porcelain"):
        return (
            f"The step is undone: {path} is back at its last commit, and files git ignores, "
            "such as your data and mlflow.db, are kept."
        )
    return (
        f"Undoing the step failed too. Put the project back at its last commit with\n"
        f"  cd {path} && {ABANDON}\n"
        "which keeps files git ignores, such as your data and mlflow.db."
    )


def _report_conflicts(path: Path, step: Step, conflicts: list[str], final: Step) -> None:
    count = f"{len(conflicts)} file{'s' if len(conflicts) > 1 else ''}"
    files = "\n".join(f"  {name}" for name in conflicts)
    message = _message(path, step)
    cont = (
        ""
        if step is final
        else f"\nThen continue with `mlops-levels upgrade --to {final.level['level']}`."
    )
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
    print(
        f"mlops-levels: the upgrade to {step.title} stopped: the template's changes conflict "
        f"with yours in {count}:\n{files}\n"
        "Nothing of this step is committed, and nothing is lost.\n"
        + "\n".join(explained)
        + f"\nTo finish the step in {path}, lock what the step added and commit it:\n"
        f'  uv lock && git add -A && git commit -m "{message}"{cont}\n'
        f"To abandon the step instead, and get the project back as it was, run\n  {ABANDON}",
        file=sys.stderr,
    )


def _report(path: Path, ladder: tuple[Level, ...], final: Step, start: str) -> None:
    """What the upgrade added, and where the project stands against the next level."""
    level = final.level
    # uv.lock's churn (thousands of lines a level) would hide the template's changes.
    changed = _git(path, "diff", "--shortstat", start, "HEAD", "--", ".", ":!uv.lock").strip()
    if final.template:
        print(f"\n{path} is at level {describe(level)}, now on template {_recorded_version(path)}")
    else:
        print(f"\n{path} is now at level {describe(level)}")
        print(textwrap.fill(f"Level {level['level']} added: {level['description']}", width=88))
        print(f"Tools: {', '.join(level['tools'])}.")
    print(f"Changes: {changed or 'none'}. Run `uv sync` to install what the project now needs.")
    if level["level"] + 1 == len(ladder):
        print("This is the top of the ladder; `mlops-levels upgrade --template` takes newer")
        print("template versions at this level.")
        return
    from mlops_levels.checks import run_check
    from mlops_levels.detect import PASS, UNKNOWN, Project

    upcoming = ladder[level["level"] + 1]
    folder = Project(path, ask=lambda criterion: None)
    marks = {PASS: "x", UNKNOWN: "?"}
    print(f"\nNext: level {describe(upcoming)}")
    print("Its entry criteria, checked in this project ([ ] open, [x] met, [?] ask your team):")
    for criterion in upcoming["criteria"]:
        mark = marks.get(run_check(folder, criterion).status, " ")
        print(f"  [{mark}] {criterion['sentence']} ({criterion['id']})")
    print("`mlops-levels upgrade --dry-run` previews the next step; MATURITY.md describes it.")


# --- The dry run ---------------------------------------------------------------------


def _dry_run(
    project: Generated, steps: list[Step], data: dict[str, Any], *, ask: bool, commit: CommitHook
) -> int:
    """Run the steps in a throwaway clone of the project's last commit and print the diff."""
    top = Path(_git(project.path, "rev-parse", "--show-toplevel").strip())
    inside = project.path.resolve().relative_to(top.resolve())
    head = _git(project.path, "rev-parse", "HEAD").strip()
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    with tempfile.TemporaryDirectory(prefix="mlops-levels-upgrade-") as scratch:
        clone = Path(scratch, top.name)
        _progress(f"Dry run in a temporary clone of {project.path}; nothing changes there")
        _git(Path(scratch), "clone", "--quiet", "--no-checkout", str(top), str(clone))
        _git(clone, "checkout", "--quiet", "--detach", head)
        work = clone / inside
        conflicts: list[str] = []
        for number, step in enumerate(steps, 1):
            _progress(f"Step {number} of {len(steps)}: {step.title}")
            try:
                conflicts = _run_step(work, step, data, ask=ask, commit=commit, relock=False)
            except Exception as error:
                code = USAGE if isinstance(error, ValueError) else FAILED
                raise CLIError(
                    f"The dry run of the upgrade to {step.title} failed: {_reason(error)}\n"
                    f"Nothing changed in {project.path}.",
                    code,
                ) from error
            if conflicts:
                break
        _git(work, "add", "--all", "--", ".")
        patch = _git(work, "diff", "--cached", f"--color={'always' if colour else 'never'}", head)
        summary = _git(work, "diff", "--cached", "--shortstat", head).strip()
    sys.stdout.write(patch)
    if conflicts:
        print(
            f"mlops-levels: the upgrade to {step.title} would stop with conflicts in:\n"
            + "\n".join(f"  {name}" for name in conflicts)
            + f"\nNothing changed in {project.path}.",
            file=sys.stderr,
        )
        return CONFLICT
    print(
        f"Dry run: {summary or 'no changes'}. Nothing changed in {project.path}; run the "
        "same command without --dry-run to upgrade.",
        file=sys.stderr,
    )
    return OK


# --- Small helpers -----------------------------------------------------------------


def _name(level: Level) -> str:
    return f"{level['level']} ({level['name']})"


def _reason(error: Exception) -> str:
    """An error as one line for people: Copier's own messages as they are, others with their
    type, which is all an assertion deep inside Copier has to say."""
    message = str(error).strip()
    if type(error).__module__.startswith("copier") or isinstance(error, (ValueError, CLIError)):
        return message
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _recorded_version(path: Path) -> str:
    answers = yaml.safe_load((path / ANSWERS_FILE).read_text(encoding="utf-8"))
    return str(answers["_commit"])


def _git(path: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(path), *args], capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise CLIError(f"git {' '.join(args)} failed in {path}:\n{result.stderr.strip()}", FAILED)
    return result.stdout


def _git_ok(path: Path, *args: str) -> bool:
    return (
        subprocess.run(["git", "-C", str(path), *args], capture_output=True, check=False).returncode
        == 0
    )


def _at_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _confirm(question: str) -> bool:
    import questionary

    answer = questionary.confirm(question, default=True).ask()
    if answer is None:
        raise KeyboardInterrupt
    return answer


def _progress(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)
