"""Tier 2: install each generated project in a fresh environment and run its main job."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.helpers import LEVELS, git, run

pytestmark = pytest.mark.slow

PACKAGE = "churn_model"
TRACKED_LEVELS = [level for level in LEVELS if level >= 1]
READ_RUNS = Path(__file__).parent / "scripts" / "read_mlflow_runs.py"


def mlflow_runs(project: Path, uri: str = "sqlite:///mlflow.db") -> list[dict]:
    result = run(project, "uv", "run", "--no-sync", "python", str(READ_RUNS), uri)
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("level", LEVELS)
def test_notebooks_execute_top_to_bottom_and_save_their_outputs(installed, level, tmp_path):
    project = installed(level)

    run(
        project,
        "uv",
        "run",
        "--no-sync",
        "jupyter",
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        "--output-dir",
        str(tmp_path),
        *sorted(str(path.relative_to(project)) for path in project.glob("notebooks/*.ipynb")),
    )

    figures = {path.name for path in (project / "reports" / "figures").glob("*.png")}
    assert {"class_balance.png", "feature_distributions.png"} <= figures
    # The level-0 notebooks stay at every level; level 1 adds one that tracks.
    assert (project / "models" / "baseline.skops").stat().st_size > 0
    if level >= 1:
        assert "confusion_matrix.png" in figures


@contextmanager
def empty_tracking_store(project: Path, aside: Path) -> Iterator[None]:
    """The project's store and artifacts moved aside, then back: other modules
    share this installed project, and serve the champion that its pipeline
    registered there (dvc repro would not register it again)."""
    kept = [name for name in ("mlflow.db", "mlartifacts") if (project / name).exists()]
    for name in kept:
        shutil.move(project / name, aside / name)
    try:
        yield
    finally:
        shutil.rmtree(project / "mlartifacts", ignore_errors=True)
        (project / "mlflow.db").unlink(missing_ok=True)
        for name in kept:
            shutil.move(aside / name, project / name)


@pytest.mark.parametrize("level", TRACKED_LEVELS)
def test_train_logs_params_metrics_data_commit_and_a_loadable_model(installed, level, tmp_path):
    project = installed(level)
    with empty_tracking_store(project, tmp_path):
        run(project, "uv", "run", "--no-sync", "python", "-m", PACKAGE, "train")
        [logged] = mlflow_runs(project)

    params = yaml.safe_load((project / "params.yaml").read_text())
    data_md5 = hashlib.md5((project / params["data"]["path"]).read_bytes()).hexdigest()
    dvc_md5 = yaml.safe_load((project / "data/raw/breast_cancer.csv.dvc").read_text())["outs"][0]
    assert logged["experiment"] == params["tracking"]["experiment"]
    assert logged["params"]["model.C"] == str(params["model"]["C"])
    assert logged["params"]["data.path"] == params["data"]["path"]
    assert logged["metrics"]["roc_auc"] > 0.9
    assert logged["tags"]["data.md5"] == data_md5 == dvc_md5["md5"]
    assert logged["datasets"] == [{"name": "breast_cancer", "digest": data_md5}]
    assert logged["tags"]["git.commit"] == git(project, "rev-parse", "HEAD").strip()
    assert logged["models"] == 1
    assert "mean radius" in logged["signature_inputs"]
    assert len(logged["predictions"]) == 5


@pytest.mark.parametrize("level", TRACKED_LEVELS)
def test_train_console_script_honours_mlflow_tracking_uri(installed, level, monkeypatch):
    project = installed(level)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///team.db")

    run(project, "uv", "run", "--no-sync", PACKAGE, "train")

    assert len(mlflow_runs(project, "sqlite:///team.db")) == 1


@pytest.mark.parametrize("level", TRACKED_LEVELS)
def test_raw_data_is_tracked_by_dvc_and_pushes_to_the_local_remote(installed, level):
    project = installed(level)

    # The raw data only: from level 2 on, the pipeline's stages have yet to run.
    status = run(
        project, "uv", "run", "--no-sync", "dvc", "status", "data/raw/breast_cancer.csv.dvc"
    )
    pushed = run(project, "uv", "run", "--no-sync", "dvc", "push")

    assert "up to date" in status.stdout
    assert "pushed" in pushed.stdout or "Everything is up to date" in pushed.stdout
    assert any(path.is_file() for path in (project / ".dvc-storage").rglob("*"))
