"""`mlops-levels new`: generate a project at a chosen maturity level."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mlops_levels import copier_calls, git, ui
from mlops_levels.errors import CLIError, Refused
from mlops_levels.ladder import Level, describe, load_ladder
from mlops_levels.lock import FIX, lock
from mlops_levels.options import add_data, level_number, parse_data
from mlops_levels.template_source import prepare


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "new",
        help="generate a new ML project at a maturity level",
        description="Generate a new ML project at a maturity level, then create its "
        "git repository with a first commit so that it can be upgraded later. At a "
        "terminal it asks each question; otherwise, or with --defaults, it takes "
        "the defaults (the project name defaults to DEST's folder name).",
    )
    parser.add_argument("dest", type=Path, metavar="DEST", help="folder to create the project in")
    parser.add_argument(
        "--level", type=int, metavar="N", help="maturity level, 0-4 (see `mlops-levels levels`)"
    )
    add_data(parser, "a template question, e.g. --data project_name='Churn model'")
    parser.add_argument(
        "--defaults", action="store_true", help="ask nothing: take the default of every question"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty DEST, overwriting files of the same name",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    dest: Path = args.dest
    _check_destination(dest, force=args.force)
    data = parse_data(args.data)
    ladder = load_ladder()
    if args.level is not None:
        data["level"] = args.level
    interactive = not args.defaults and ui.at_terminal()
    if interactive and "level" not in data:
        data["level"] = _ask_level(ladder)
    level = ladder[level_number(data.get("level", 0), len(ladder))]
    _warn_if_nested(dest)
    before = _snapshot(dest)

    ui.progress("Preparing the template")
    source = prepare()
    ui.progress(f"Generating a level {level['level']} ({level['name']}) project in {dest}")
    try:
        copier_calls.copy(source, dest, data, defaults=not interactive, overwrite=args.force)
    except CLIError as error:
        # Copier removes a destination it created; one that existed keeps what was written.
        then = "" if dest.exists() else "Nothing was generated."
        raise error.within(f"Generating {dest}", then=then) from error

    ui.progress("Locking the dependencies (uv lock)")
    unlocked = lock(dest)
    ui.progress("Creating the git repository and its first commit")
    # With --force, what was in DEST before and that Copier did not overwrite is the user's.
    theirs = sorted(name for name, stamp in before.items() if _stamp(dest / name) == stamp)
    message = f"Start at level {level['level']} ({level['name']}) with mlops-levels"
    git.start_repository(dest, message, keep_out=theirs)

    print(f"\nCreated {dest} at level {describe(level)}")
    if theirs:
        print(f"Left out of the first commit, as they were in {dest} before: {', '.join(theirs)}")
    if unlocked:
        ui.warn(
            f"{dest} has no uv.lock: {unlocked}. Its CI and Dockerfile install "
            f"with `uv sync --locked`, which needs it. Once uv can reach the package index, "
            f"run in {dest}:\n  {FIX}"
        )
    print(f"Next: cd {dest} && uv sync, then follow README.md.")
    print("MATURITY.md lists what the next level needs, and the command that upgrades.")
    return 0


def _check_destination(dest: Path, *, force: bool) -> None:
    if dest.exists() and not dest.is_dir():
        raise CLIError(f"{dest} is a file; give a folder to create the project in.")
    if dest.is_dir() and any(dest.iterdir()) and not force:
        raise Refused(
            f"{dest} is not empty. Choose a new folder, or pass --force to generate "
            "into it and overwrite files of the same name."
        )
    existing = _nearest_existing(dest)
    if not existing.is_dir():
        raise CLIError(f"{existing} is a file; give a folder to create the project in.")
    if not os.access(existing, os.W_OK):
        raise Refused(
            f"{dest} cannot be {'written' if existing == dest else 'created'}: {existing} is "
            "read-only. Choose a folder you can write."
        )


def _nearest_existing(dest: Path) -> Path:
    """The folder that Copier writes into, or the nearest one above it that it creates in."""
    return next(folder for folder in (dest, *dest.absolute().parents) if folder.exists())


def _warn_if_nested(dest: Path) -> None:
    """Warn when DEST lies inside another git work tree, before anything is written.

    That repository would then hold a nested repository, which `git add` there
    records as a submodule without a URL, so Copier can no longer clone it (as a
    template, say): "No url found for submodule path".
    """
    outer = git.work_tree(_nearest_existing(dest))
    if outer and outer.resolve() != dest.resolve():
        inside = dest.resolve().relative_to(outer.resolve())
        ui.warn(
            f"{dest} is inside the git work tree {outer}. That repository will see "
            f"the project as a nested repository, and Copier cannot use it as a template "
            f"source then. Generate outside it, or add {inside}/ to its .gitignore."
        )


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


def _snapshot(dest: Path) -> dict[str, tuple[int, int] | None]:
    """The files already in DEST (outside .git), by path, with their size and mtime."""
    if not dest.is_dir():
        return {}
    return {
        file.relative_to(dest).as_posix(): _stamp(file)
        for file in dest.rglob("*")
        if ".git" not in file.relative_to(dest).parts and not file.is_dir()
    }


def _ask_level(ladder: tuple[Level, ...]) -> int:
    choices = [(describe(level), level["level"], level["description"]) for level in ladder]
    return ui.choose("Start at which maturity level?", choices)
