"""`mlops-levels new`: generate a project at a chosen maturity level."""

from __future__ import annotations

import argparse
import os
import runpy
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

from mlops_levels.answers import level_number, parse_data
from mlops_levels.errors import FAILED, REFUSED, USAGE, CLIError
from mlops_levels.ladder import describe, load_ladder
from mlops_levels.lock import FIX, lock
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
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="answer a template question, e.g. --data project_name='Churn model' (repeatable)",
    )
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
    interactive = not args.defaults and sys.stdin.isatty() and sys.stdout.isatty()
    if interactive and "level" not in data:
        data["level"] = _ask_level(ladder)
    level = ladder[level_number(data.get("level", 0), len(ladder))]
    _warn_if_nested(dest)
    before = _snapshot(dest)

    _progress("Preparing the template")
    source = prepare()
    _progress(f"Generating a level {level['level']} ({level['name']}) project in {dest}")
    _copy(source.url, source.ref, dest, data, interactive=interactive, force=args.force)

    _progress("Locking the dependencies (uv lock)")
    unlocked = lock(dest)
    _progress("Creating the git repository and its first commit")
    # With --force, what was in DEST before and that Copier did not overwrite is the user's.
    theirs = sorted(name for name, stamp in before.items() if _stamp(dest / name) == stamp)
    hook = runpy.run_path(str(source.path / "hooks" / "post_copy.py"))
    message = f"Start at level {level['level']} ({level['name']}) with mlops-levels"
    hook["main"](dest, message, keep_out=theirs)

    print(f"\nCreated {dest} at level {describe(level)}")
    if theirs:
        print(f"Left out of the first commit, as they were in {dest} before: {', '.join(theirs)}")
    if unlocked:
        print(
            f"warning: {dest} has no uv.lock: {unlocked}. Its CI and Dockerfile install "
            f"with `uv sync --locked`, which needs it. Once uv can reach the package index, "
            f"run in {dest}:\n  {FIX}",
            file=sys.stderr,
        )
    print(f"Next: cd {dest} && uv sync, then follow README.md.")
    print("MATURITY.md lists what the next level needs, and the command that upgrades.")
    return 0


def _check_destination(dest: Path, *, force: bool) -> None:
    if dest.exists() and not dest.is_dir():
        raise CLIError(f"{dest} is a file; give a folder to create the project in.")
    if dest.is_dir() and any(dest.iterdir()) and not force:
        raise CLIError(
            f"{dest} is not empty. Choose a new folder, or pass --force to generate "
            "into it and overwrite files of the same name.",
            REFUSED,
        )
    # The folder that Copier writes into, or the nearest one above it that it creates in.
    existing = next(folder for folder in (dest, *dest.absolute().parents) if folder.exists())
    if not existing.is_dir():
        raise CLIError(f"{existing} is a file; give a folder to create the project in.")
    if not os.access(existing, os.W_OK):
        raise CLIError(
            f"{dest} cannot be {'written' if existing == dest else 'created'}: {existing} is "
            "read-only. Choose a folder you can write.",
            REFUSED,
        )


def _warn_if_nested(dest: Path) -> None:
    """Warn when DEST lies inside another git work tree, before anything is written.

    That repository would then hold a nested repository, which `git add` there
    records as a submodule without a URL, so Copier can no longer clone it (as a
    template, say): "No url found for submodule path".
    """
    existing = next(folder for folder in (dest, *dest.absolute().parents) if folder.exists())
    outer = subprocess.run(
        ["git", "-C", str(existing), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if outer and Path(outer).resolve() != dest.resolve():
        inside = dest.resolve().relative_to(Path(outer).resolve())
        print(
            f"warning: {dest} is inside the git work tree {outer}. That repository will see "
            f"the project as a nested repository, and Copier cannot use it as a template "
            f"source then. Generate outside it, or add {inside}/ to its .gitignore.",
            file=sys.stderr,
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


def _ask_level(ladder: tuple[dict[str, Any], ...]) -> int:
    import questionary

    choices = [
        questionary.Choice(
            describe(level),
            value=level["level"],
            description=level["description"],
        )
        for level in ladder
    ]
    answer = questionary.select("Start at which maturity level?", choices=choices).ask()
    if answer is None:
        raise KeyboardInterrupt
    return answer


def _copy(
    url: str, ref: str, dest: Path, data: dict[str, Any], *, interactive: bool, force: bool
) -> None:
    from copier import run_copy
    from copier.errors import CopierError, MissingFileWarning

    try:
        with warnings.catch_warnings():
            # A fresh copy has no answers file yet; the level guard expects that.
            warnings.simplefilter("ignore", MissingFileWarning)
            run_copy(
                url,
                # Copier refuses to read the answers file (the level guard's external
                # data) through a path that climbs out of the folder, such as ../project.
                dest.resolve(),
                data=data,
                vcs_ref=ref,
                defaults=not interactive,
                overwrite=force,
                quiet=True,
            )
    except (CopierError, ValueError) as error:
        raise CLIError(f"{error}\nNothing was generated.", USAGE) from error
    except OSError as error:
        # Copier removes a destination it created; one that existed keeps what was written.
        raise CLIError(
            f"Generating {dest} failed: {error.strerror or error}: {error.filename}", FAILED
        ) from error


def _progress(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)
