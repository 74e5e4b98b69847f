"""Tier 2 for level 4 (Continuous): the whole loop, on this machine.

One installed project (GitHub Actions, the default) runs its pipeline, then
serves its champion, checking the alias every second. Steady traffic, then
drifted traffic go through the real service into the prediction log; `monitor`
judges each; `retrain` promotes on the drifted, labelled rows and the running
service swaps the new champion in; `rollback` swaps the old one back. The
project's own `demo` runs the same loop in its scratch folder.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import free_port, request, run, start_service

pytestmark = pytest.mark.slow

PACKAGE = "churn_model"
ROWS = 200


@dataclass(frozen=True)
class Monitored:
    code: int
    summary: dict
    output: str


@pytest.fixture(scope="module")
def project(installed) -> Path:
    project = installed(4)
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("interval_seconds: 30", "interval_seconds: 1"))
    run(project, "uv", "run", "--no-sync", "dvc", "repro")
    return project


@pytest.fixture(scope="module")
def service(project, tmp_path_factory) -> Iterator[str]:
    """`serve` on a free loopback port, with the project's stores."""
    port = free_port()
    log = tmp_path_factory.mktemp("service") / "service.log"
    process = start_service(project, ["-m", PACKAGE, "serve", "--port", str(port)], port, log)
    url = f"http://127.0.0.1:{port}"
    yield url
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def reference(project: Path) -> pd.DataFrame:
    return pd.read_csv(project / "data" / "raw" / "breast_cancer.csv")


def drifted(rows: pd.DataFrame) -> pd.DataFrame:
    """Every number 30% larger, capped at the data's range: within the contract."""
    features = rows.drop(columns="target")
    scaled = (features * 1.3).clip(features.min(), features.max(), axis="columns")
    return scaled.assign(target=rows["target"])


def send(url: str, rows: pd.DataFrame) -> list[dict]:
    records = rows.drop(columns="target").to_dict(orient="records")
    answers = []
    for start in range(0, len(records), 20):
        status, answer = request(f"{url}/predict", {"rows": records[start : start + 20]})
        assert status == 200, answer
        answers.append(answer)
    return answers


def monitor(project: Path, since: datetime) -> Monitored:
    result = subprocess.run(
        [".venv/bin/python", "-m", PACKAGE, "monitor", "--since", since.isoformat()],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    summary_file = project / "reports" / "monitoring" / "summary.json"
    summary = json.loads(summary_file.read_text()) if result.returncode in (0, 1) else {}
    return Monitored(result.returncode, summary, result.stdout + result.stderr)


@pytest.fixture(scope="module")
def traffic(project, service) -> dict[str, object]:
    """Steady traffic, then drifted traffic, each judged by `monitor` on its own."""
    data = reference(project)
    steady_since = datetime.now(UTC)
    steady = send(service, data.sample(ROWS, random_state=1))
    steady_verdict = monitor(project, steady_since)
    drifted_since = datetime.now(UTC)
    drifted_rows = drifted(data.sample(ROWS, random_state=2))
    drift_answers = send(service, drifted_rows)
    drift_verdict = monitor(project, drifted_since)
    return {
        "answers": steady + drift_answers,
        "drifted_rows": drifted_rows,
        "steady": steady_verdict,
        "drifted": drift_verdict,
        "too_little": monitor(project, datetime.now(UTC)),
    }


def test_every_prediction_is_logged_with_its_request_id(project, traffic):
    time.sleep(1)  # the log writes off the request path
    with sqlite3.connect(project / "data" / "predictions.db") as db:
        logged = dict(db.execute("SELECT request_id, row_count FROM predictions"))

    answers = traffic["answers"]
    assert logged == {a["request_id"]: len(a["predictions"]) for a in answers}
    assert sum(logged.values()) == 2 * ROWS


def test_monitor_exits_0_on_steady_traffic(traffic):
    steady = traffic["steady"]

    assert steady.code == 0, steady.output
    assert steady.summary["drifted"] is False
    assert steady.summary["rows"] == ROWS


def test_monitor_exits_1_on_drifted_traffic_and_writes_its_reports(project, traffic):
    drift = traffic["drifted"]

    assert drift.code == 1, drift.output
    assert drift.summary["drifted"] is True
    assert len(drift.summary["drifted_columns"]) > drift.summary["columns"] / 2
    assert (project / "reports" / "monitoring" / "drift.html").stat().st_size > 10_000


def test_monitor_exits_2_on_too_little_traffic(traffic):
    assert traffic["too_little"].code == 2, traffic["too_little"].output


def wait_for_version(url: str, version: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while request(f"{url}/model")[1]["version"] != version:
        assert time.monotonic() < deadline, f"the service never served version {version}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def promoted(project, service, traffic) -> dict:
    """The drifted rows' labels arrive; `retrain` promotes; the service swaps."""
    answers = traffic["answers"][ROWS // 20 :]  # the drifted half
    keys = [(a["request_id"], row) for a in answers for row in range(len(a["predictions"]))]
    labels = pd.DataFrame(keys, columns=["request_id", "row"])
    labels["label"] = traffic["drifted_rows"]["target"].to_numpy()
    labels.to_csv(project / "data" / "labels.csv", index=False)
    run(project, ".venv/bin/python", "-m", PACKAGE, "retrain")
    decision = json.loads((project / "reports" / "retraining" / "decision.json").read_text())
    wait_for_version(service, decision["champion_version"])
    return decision


def test_retrain_promotes_on_drifted_labelled_data_and_the_service_swaps(service, promoted):
    assert promoted["decision"] == "promoted", promoted["reason"]
    assert promoted["new_rows"] == ROWS
    assert request(f"{service}/model")[1]["version"] == promoted["champion_version"]


def test_rollback_restores_the_previous_version_in_the_running_service(project, service, promoted):
    result = run(
        project,
        *(".venv/bin/python", "-m", PACKAGE, "rollback", "--reason", "test", "--by", "ci"),
    )

    assert "champion is version 1 again" in result.stdout
    wait_for_version(service, "1")


def test_demo_closes_the_loop_without_a_failed_request(project, tmp_path):
    result = run(project, ".venv/bin/python", "-m", PACKAGE, "demo", "--keep", str(tmp_path))

    lines = result.stdout.splitlines()
    print("\n" + result.stdout)
    normal, drifted = [line for line in lines if line.startswith("demo: monitor")]
    assert "normal traffic" in normal and normal.endswith("(exit 0)")
    assert drifted.endswith("(exit 1)")
    decision = json.loads((tmp_path / "reports" / "retraining" / "decision.json").read_text())
    assert decision["decision"] == "promoted"
    assert decision["champion_version"] != "1"
    swap = next(line for line in lines if line.startswith("demo: swap"))
    assert f"v{decision['champion_version']}: " in swap
    assert swap.endswith("failed: 0")


def test_dockerfile_passes_hadolint(render):
    tools = Path(sys.executable).parent
    result = run(render(4), str(tools / "hadolint"), "--failure-threshold", "error", "Dockerfile")

    assert "DL3" not in result.stdout.replace("DL3066", "")


def test_generated_test_suite_passes(project, promoted):
    result = run(project, "uv", "run", "--no-sync", "pytest", "-q")

    assert " passed" in result.stdout
    assert "skipped" not in result.stdout
