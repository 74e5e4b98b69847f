"""Fixtures: a small slice of the sample data, and a folder to run the pipeline in.

The tests take the sample data from the copy scikit-learn ships, so they run on
a fresh clone, before any `dvc pull`. Once you train on your own data, build
`sample` from a small slice of it instead, kept under tests/.
"""

from pathlib import Path

import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_breast_cancer

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The project this test suite belongs to: its params.yaml and dvc.yaml."""
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def target() -> str:
    """The column to predict in the sample data."""
    return "target"


@pytest.fixture(scope="session")
def sample() -> pd.DataFrame:
    """The whole sample: 569 rows, 30 features and the target."""
    return load_breast_cancer(as_frame=True).frame


@pytest.fixture
def small(sample: pd.DataFrame, target: str) -> pd.DataFrame:
    """60 rows, 30 of each class: enough to fit and score the model in a blink."""
    return sample.groupby(target).head(30).reset_index(drop=True)


@pytest.fixture
def project(
    tmp_path: Path, small: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A folder laid out like the project, whose raw data is the small slice.

    It holds a copy of the project's params.yaml that points at the slice. The
    tests run from here, so the stages read that copy, write their outputs here
    and track to this folder's mlflow.db, never to the project's own.
    """
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    params["data"]["path"] = "data/raw/sample.csv"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (tmp_path / "data" / "raw").mkdir(parents=True)
    small.to_csv(tmp_path / params["data"]["path"], index=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path
