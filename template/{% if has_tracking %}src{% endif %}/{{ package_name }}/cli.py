"""The command line, `python -m` with this package's name: every command.

A command whose subpackage the project lacks (pipeline/, serving/, monitoring/,
demo/) is not offered. Its handler, in commands.py, imports what it needs only
once it runs: MLflow, scikit-learn and the rest load after the command line is
read, so `--help` and a mistyped option answer at once.
"""

import argparse
import getpass
import importlib.util
import inspect
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import commands, exit_without_collecting

# How the Dockerfile binds the container's port without changing the command.
DEFAULT_HOST = os.environ.get("SERVING_HOST", "127.0.0.1")
DEFAULT_PORT = int(os.environ.get("SERVING_PORT", "8000"))
HOST_HELP = "address to listen on (default: $SERVING_HOST or 127.0.0.1)"
PORT_HELP = "port to listen on (default: $SERVING_PORT or 8000)"
SINCE_HELP = "rows logged since then, UTC unless it says (default: window_days ago)"
KEEP_HELP = "work in DIR and keep it (default: a temporary folder, kept on failure)"
WAIT_HELP = "seconds to wait for the service to be ready, or to swap (default: 600)"


def positive_integer(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def moment(text: str) -> datetime:
    """An argparse type: an ISO 8601 date or time; without a time zone, UTC."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date or time, e.g. 2025-01-31 or "
            "2025-01-31T12:00:00+00:00"
        ) from error
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


Option = tuple[tuple[str, ...], dict[str, Any]]


def option(*flags: str, **settings: Any) -> Option:
    """An option of a command, as `argparse.ArgumentParser.add_argument` takes it."""
    return flags, settings


def file_option(flag: str, kind: str, help: str) -> Option:
    """A required file option of a stage, as dvc.yaml passes it."""
    return option(flag, type=Path, required=True, metavar=kind, help=help)


@dataclass(frozen=True)
class Command:
    """A command: its help, its options, and the subpackage it needs."""

    name: str
    help: str
    options: list[Option] = field(default_factory=list)
    needs: str | None = None
    takes_params: bool = True
    # 1 is monitor's verdict "drift": its errors exit 2, which a job tells apart.
    error_code: int = 1


COMMANDS = [
    Command("train", "train, evaluate and log a run to MLflow"),
    Command(
        "example-request",
        "print a /predict request body made of rows of the data",
        [option("--rows", type=positive_integer, default=1, metavar="N")],
        needs="serving",
    ),
    Command(
        "serve",
        "serve the registry's champion model over HTTP",
        [
            option("--host", default=DEFAULT_HOST, help=HOST_HELP),
            option("--port", type=int, default=DEFAULT_PORT, help=PORT_HELP),
            option("--access-log", action="store_true", help="log every request"),
        ],
        needs="serving",
    ),
    Command(
        "prepare",
        "stage: check the raw data against the contract, then split it",
        [
            file_option("--train", "CSV", "where to write the training rows"),
            file_option("--test", "CSV", "where to write the held-out rows"),
        ],
        needs="pipeline",
    ),
    Command(
        "fit",
        "stage: fit the model on the training rows and save it",
        [
            file_option("--train", "CSV", "the training rows"),
            file_option("--model", "FILE", "where to save the model"),
        ],
        needs="pipeline",
    ),
    Command(
        "evaluate",
        "stage: score the model, write metrics and plots, log the run",
        [
            file_option("--test", "CSV", "the held-out rows"),
            file_option("--model", "FILE", "the saved model"),
            file_option("--metrics", "JSON", "where to write the metrics"),
            file_option("--plots", "DIR", "where to write the data of the plots"),
            file_option("--run", "JSON", "where to write the MLflow run's id"),
        ],
        needs="pipeline",
    ),
    Command(
        "register",
        "stage: register evaluate's model as the challenger",
        [
            file_option("--run", "JSON", "evaluate's MLflow run id"),
            file_option("--out", "JSON", "where to write the version registered"),
        ],
        needs="serving",
    ),
    Command(
        "promote",
        "stage: make the challenger champion if it is better",
        [
            file_option("--challenger", "JSON", "the version register wrote"),
            file_option("--test", "CSV", "the held-out rows"),
            file_option("--out", "JSON", "where to write the decision"),
        ],
        needs="serving",
    ),
    Command(
        "sample",
        "rebuild the sample data, byte for byte, from scikit-learn",
        [option("path", type=Path, help="where to write the CSV")],
        needs="pipeline",
        takes_params=False,
    ),
    Command(
        "get-data",
        "get data.path: rebuild the sample, or `dvc pull` your own data (CI)",
        needs="pipeline",
    ),
    Command(
        "contract",
        "print a data contract (schema.py's COLUMNS) that a CSV meets",
        [
            option("csv", type=Path, help="the data to generate it from"),
            option("--target", help="the column to predict (default: data.target)"),
        ],
        needs="pipeline",
    ),
    Command(
        "monitor",
        "check the logged traffic for drift (exit 0 no drift, 1 drift, 2 no verdict)",
        [option("--since", type=moment, metavar="ISO-8601", help=SINCE_HELP)],
        needs="monitoring",
        error_code=2,
    ),
    Command(
        "retrain",
        "retrain on new labelled data; promote only a better model",
        needs="monitoring",
    ),
    Command(
        "rollback",
        "make the previous champion the champion again",
        [
            option("--reason", required=True, help="why, for the record"),
            option("--by", default=getpass.getuser(), help="who (default: you)"),
        ],
        needs="monitoring",
    ),
    Command(
        "demo",
        "run the whole monitor -> retrain -> swap loop in a scratch folder",
        [
            option("--keep", type=Path, metavar="DIR", help=KEEP_HELP),
            option("--timeout", type=positive_integer, default=600, help=WAIT_HELP),
        ],
        needs="demo",
    ),
]


def build_parser() -> argparse.ArgumentParser:
    """The commands that this project's subpackages provide, and their options."""
    parser = argparse.ArgumentParser(
        prog=__package__, description="Train, track and run this project's model."
    )
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument(
        "--params",
        type=Path,
        metavar="PATH",
        help="config file (default: the nearest params.yaml, here or in a parent)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        if command.needs and not importlib.util.find_spec(
            f"{__package__}.{command.needs}"
        ):
            continue
        handler = getattr(commands, "run_" + command.name.replace("-", "_"))
        sub = subparsers.add_parser(
            command.name,
            help=command.help,
            description=inspect.getdoc(handler),
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[shared] if command.takes_params else [],
        )
        for flags, options in command.options:
            sub.add_argument(*flags, **options)
        sub.set_defaults(handler=handler, error_code=command.error_code)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named on the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    exit_without_collecting()
    # Each command prints what matters: keep MLflow's warnings, not its chatter,
    # nor its progress bar for each model download.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        return args.handler(args)
    except (OSError, ValueError) as error:
        return fail(error, args.error_code)
    except library_errors() as error:
        return fail(error, args.error_code)


def library_errors() -> tuple[type[Exception], ...]:
    """MLflow's and skops' errors, whose messages say what to fix; imported
    by an `except` clause, only once an error is raised."""
    from mlflow.exceptions import MlflowException
    from skops.io.exceptions import UntrustedTypesFoundException

    return MlflowException, UntrustedTypesFoundException


def fail(error: Exception, code: int) -> int:
    """Print the error's message without a traceback, which would bury it."""
    print(f"error: {error}", file=sys.stderr)
    return code
