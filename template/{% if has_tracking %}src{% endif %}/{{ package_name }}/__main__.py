"""The command line: `train` trains the model and logs the run to MLflow.

Run it with `python -m` and this package's name, or with the console script of
the same name that pyproject.toml declares; both call `main`.
"""

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Params, find_params_file, load_params
from .tracking import local_tracking_uri

if TYPE_CHECKING:
    from .train import TrainResult

TRAIN_HELP = """\
Train the model on the data named in params.yaml, evaluate it on a held-out
split and log the run to MLflow: parameters, metrics, the data's path and MD5
hash, the git commit, and the model with its signature and an input example.

Runs go to mlflow.db at the project root, or to $MLFLOW_TRACKING_URI when set.
"""


def build_parser() -> argparse.ArgumentParser:
    """The command line: one `train` command and its options."""
    parser = argparse.ArgumentParser(
        prog=__package__,
        description="Train this project's model and track every run in MLflow.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser(
        "train",
        help="train, evaluate and log a run to MLflow",
        description=TRAIN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument(
        "--params",
        type=Path,
        metavar="PATH",
        help="config file (default: the nearest params.yaml, here or in a parent)",
    )
    train.set_defaults(run=run_train)
    return parser


def run_train(args: argparse.Namespace) -> int:
    """Train once and print a short summary; return the exit code."""
    # MLflow takes a moment to import: load it only to train, so --help is instant.
    from mlflow.exceptions import MlflowException

    from .train import train

    # The summary below says what matters; keep MLflow's warnings, not its chatter.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    try:
        params = load_params(args.params or find_params_file())
        result = train(params)
    except (FileNotFoundError, ValueError, MlflowException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print_summary(params, result)
    return 0


def print_summary(params: Params, result: "TrainResult") -> None:
    """Say what was logged, how well the model did, and where to look at the run."""
    print(f"MLflow run {result.run_id} in experiment '{params.tracking.experiment}'")
    print(f"  data      {params.data.path} (md5 {result.data_md5})")
    for name, value in result.metrics.items():
        print(f"  {name:<9} {value:.4f}")
    print(where_to_look(params, result))


def where_to_look(params: Params, result: "TrainResult") -> str:
    """How to open this run in the MLflow UI, for the store it was logged to."""
    uri = result.tracking_uri
    if uri == local_tracking_uri(params.root):
        return (
            "Open the MLflow UI from the project root with\n"
            "  uv run mlflow ui --backend-store-uri sqlite:///mlflow.db\n"
            "and browse to http://127.0.0.1:5000"
        )
    if uri.startswith(("http://", "https://")):
        run_path = f"#/experiments/{result.experiment_id}/runs/{result.run_id}"
        return f"Open {uri.rstrip('/')}/{run_path}"
    return f"Open the MLflow UI with: uv run mlflow ui --backend-store-uri {uri}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m` and of the console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
