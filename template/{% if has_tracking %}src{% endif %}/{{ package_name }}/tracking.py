"""Where MLflow tracks runs, and what identifies a run's data and code."""

import os
import subprocess
import warnings
from pathlib import Path

import mlflow
import mlflow.data

from .data import Dataset

TRACKING_URI_VARIABLE = "MLFLOW_TRACKING_URI"
SQLITE_PREFIX = "sqlite:///"


def tracking_uri(root: Path) -> str:
    """$MLFLOW_TRACKING_URI if set (e.g. a team server), else the project's SQLite."""
    return os.environ.get(TRACKING_URI_VARIABLE) or local_tracking_uri(root)


def local_tracking_uri(root: Path) -> str:
    """The default store: mlflow.db at the project root, whatever the current folder."""
    return f"{SQLITE_PREFIX}{(root / 'mlflow.db').as_posix()}"


def registry_uri(root: Path) -> str:
    """The tracking URI for code that only reads the registry, such as the service.

    MLflow makes a new, empty SQLite store at a path where there is none: a
    mistyped path, or a container given no URI, would then pass for a registry
    without a champion. A reader gets this error instead; the pipeline's stages
    (start_tracking) still make the store.
    """
    uri = tracking_uri(root)
    if uri.startswith(SQLITE_PREFIX):
        # SQLAlchemy's form: sqlite:///relative/path or sqlite:////absolute/path.
        path = Path(uri.removeprefix(SQLITE_PREFIX).partition("?")[0])
        if not path.is_file():
            raise FileNotFoundError(
                f"there is no MLflow store at {path}: set {TRACKING_URI_VARIABLE} "
                "to the registry, or make this one with the pipeline (`dvc repro`)"
            )
    return uri


def start_tracking(root: Path, experiment: str) -> str:
    """Point MLflow at the tracking store; return the experiment's id, creating it."""
    uri = tracking_uri(root)
    mlflow.set_tracking_uri(uri)
    existing = mlflow.get_experiment_by_name(experiment)
    if existing is not None:
        return existing.experiment_id
    # With the local store, artifacts go to mlartifacts/ in the project rather
    # than to wherever the run started; a tracking server decides for itself.
    is_local = uri == local_tracking_uri(root)
    location = (root / "mlartifacts").as_uri() if is_local else None
    return mlflow.create_experiment(experiment, artifact_location=location)


def log_dataset(dataset: Dataset, path_in_params: str) -> None:
    """Record the run's data: an MLflow dataset entry, and tags that search can use.

    The dataset's digest and the `data.md5` tag are the file's MD5, the hash
    DVC records, so a run can be matched to the data version that produced it.
    """
    with warnings.catch_warnings():
        # Two warnings that do not apply to a file's record: a local path
        # matches two equivalent MLflow source types, and integer columns
        # cannot hold missing values (advice for model inputs, which the
        # model's signature covers).
        warnings.filterwarnings("ignore", message=".*interpreted in multiple ways")
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains int")
        entry = mlflow.data.from_pandas(
            dataset.frame,
            source=str(dataset.path),
            targets=dataset.target,
            name=dataset.path.stem,
            digest=dataset.md5,
        )
        mlflow.log_input(entry, context="training")
    mlflow.set_tags({"data.path": path_in_params, "data.md5": dataset.md5})


def git_tags(root: Path) -> dict[str, str]:
    """The commit the code came from and whether it had uncommitted changes.

    Outside a git repository `git.commit` says why there is no commit, so the
    tag is never silently missing.
    """
    try:
        inside = _git(root, "rev-parse", "--is-inside-work-tree")
    except FileNotFoundError:
        return {"git.commit": "unavailable: git is not installed"}
    if inside is None:
        return {"git.commit": "unavailable: not a git repository"}
    commit = _git(root, "rev-parse", "--verify", "--quiet", "HEAD")
    if commit is None:
        return {"git.commit": "unavailable: no commit yet"}
    # Like `git describe --dirty`: edits to tracked files count, new files do not.
    changes = _git(root, "status", "--porcelain", "--untracked-files=no")
    return {"git.commit": commit, "git.dirty": "true" if changes else "false"}


def _git(root: Path, *args: str) -> str | None:
    """Output of a git command run in `root`, or None if git reports an error."""
    result = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else None
