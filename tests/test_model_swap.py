"""The model swap the README gives: edit `build_model` and params.yaml's `model:`
(and, for a model from another package, `uv add` it and trust its types), and
the level-4 project still trains, passes its tests and serves any batch.

Each case copies the shared installed project, so it never changes it.
"""

import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import free_port, request, run, start_service

pytestmark = pytest.mark.slow

PACKAGE = "churn_model"
PYTHON = ("uv", "run", "--no-sync", "python", "-m")
DEFAULT_CLASSIFIER = '("classifier", LogisticRegression(**hyperparameters)),'
DEFAULT_SETTINGS = "  C: 1.0\n  max_iter: 1000\n"
# The generated tests that build, score and serve the model.
MODEL_TESTS = ("tests/test_train.py", "tests/serving/test_scorer.py", "tests/serving/test_app.py")
TRUSTED_LINE = re.compile(r"^SKOPS_TRUSTED_TYPES = \[.*\]$", re.MULTILINE)
# Requests in the throughput loop: enough for a rate, few enough to be quick.
TIMED_REQUESTS = 100


@dataclass(frozen=True)
class Swap:
    """A replacement model, as the README's "Replace the model" steps put it in."""

    name: str
    package: str | None  # to `uv add`, for a model from outside scikit-learn
    module: str
    classifier: str
    settings: str  # params.yaml's `model:` keys


SWAPS = [
    Swap(
        "histgradientboosting",
        None,
        "sklearn.ensemble",
        "HistGradientBoostingClassifier",
        "  max_iter: 100\n  learning_rate: 0.1\n",
    ),
    Swap(
        "lightgbm",
        "lightgbm",
        "lightgbm",
        "LGBMClassifier",
        "  n_estimators: 100\n  learning_rate: 0.1\n  verbose: -1\n",
    ),
]


def swap_in(project: Path, swap: Swap) -> None:
    """The two edits of the README: the classifier in build_model, and its settings."""
    train = project / "src" / PACKAGE / "train.py"
    code = train.read_text()
    assert DEFAULT_CLASSIFIER in code
    replacement = f'("classifier", {swap.classifier}(**hyperparameters)),'
    code = code.replace(DEFAULT_CLASSIFIER, replacement)
    code = code.replace(
        "from sklearn.linear_model import LogisticRegression\n",
        f"from {swap.module} import {swap.classifier}\n",
    )
    train.write_text(code)
    params = project / "params.yaml"
    assert DEFAULT_SETTINGS in params.read_text()
    params.write_text(params.read_text().replace(DEFAULT_SETTINGS, swap.settings))


def trust_what_training_asks(project: Path) -> None:
    """Train once; set SKOPS_TRUSTED_TYPES to the line the refusal names, as the
    README says to (after checking each type)."""
    refused = subprocess.run(
        [*PYTHON, "dvc", "repro", "train"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0, refused.stdout
    [line] = TRUSTED_LINE.findall(refused.stdout + refused.stderr)
    train = project / "src" / PACKAGE / "train.py"
    code = TRUSTED_LINE.sub(lambda _: line, train.read_text(), count=1)
    train.write_text(code)
    run(project, *PYTHON, "ruff", "format", "src")


def requests_per_second(url: str, body: dict) -> float:
    start = time.perf_counter()
    for _ in range(TIMED_REQUESTS):
        status, _ = request(url, body)
        assert status == 200
    return TIMED_REQUESTS / (time.perf_counter() - start)


@pytest.mark.parametrize("swap", SWAPS, ids=[swap.name for swap in SWAPS])
def test_a_swapped_model_trains_passes_the_tests_and_serves_any_batch(installed, tmp_path, swap):
    project = tmp_path / "churn-model"
    shutil.copytree(
        installed(4),
        project,
        symlinks=True,
        ignore=shutil.ignore_patterns("mlflow.db", "mlartifacts"),
    )
    # The copied environment installs the original's code: install the copy's.
    # Its commands' scripts still start the original's Python, hence `python -m`.
    run(project, "uv", "sync", "--quiet", "--reinstall-package", "churn-model")
    if swap.package is not None:
        run(project, "uv", "add", "--quiet", swap.package)
    swap_in(project, swap)
    trust_what_training_asks(project)

    run(project, *PYTHON, "dvc", "repro")
    run(project, *PYTHON, "pytest", "-q", "-p", "no:cacheprovider", *MODEL_TESTS)

    port = free_port()
    process = start_service(
        project,
        ["-m", PACKAGE, "serve", "--host", "127.0.0.1", "--port", str(port)],
        port,
        tmp_path / "service.log",
    )
    try:
        url = f"http://127.0.0.1:{port}"
        test = pd.read_csv(project / "data" / "processed" / "test.csv").drop(columns="target")
        for size in (1, 100):
            rows = test.sample(size, replace=True, random_state=0).to_dict(orient="records")
            status, answer = request(f"{url}/predict", {"rows": rows})
            assert status == 200, answer
            assert len(answer["predictions"]) == len(answer["probabilities"]) == size
        status, described = request(f"{url}/model")
        assert (status, described["scorer"]) == (200, "scikit-learn")
        assert swap.classifier in described["scorer_reason"]
        one_row = {"rows": test.head(1).to_dict(orient="records")}
        rate = requests_per_second(f"{url}/predict", one_row)
        print(f"\nserve, {swap.name}: {rate:.0f} requests/s of 1 row")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
