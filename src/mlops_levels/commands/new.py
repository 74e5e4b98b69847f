"""`mlops-levels new`: generate a project at a chosen maturity level."""

from __future__ import annotations

import argparse
import os
import runpy
import sys
import warnings
from pathlib import Path
from typing import Any

from mlops_levels.answers import level_number, parse_data
from mlops_levels.errors import FAILED, REFUSED, USAGE, CLIError
from mlops_levels.ladder import describe, load_ladder
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

    _progress("Preparing the template")
    source = prepare()
    _progress(f"Generating a level {level['level']} ({level['name']}) project in {dest}")
    _copy(source.url, source.ref, dest, data, interactive=interactive, force=args.force)

    _progress("Creating the git repository and its first commit")
    hook = runpy.run_path(str(source.path / "hooks" / "post_copy.py"))
    hook["main"](dest, f"Start at level {level['level']} ({level['name']}) with mlops-levels")

    print(f"\nCreated {dest} at level {describe(level)}")
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
                dest,
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
