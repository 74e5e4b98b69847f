"""Tier 2 for level 3 (Delivered): the registry and its gate, the serving API, the
container's command, CD, and the generated tests.

One installed project (GitHub Actions, the default) runs the pipeline twice, the
second time with a worse model setting, then serves its champion with the
Dockerfile's command on a free loopback port. There is no Docker engine here, so
the Dockerfile is linted and its CMD runs in the project's environment.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import free_port, request, run, start_service

pytestmark = pytest.mark.slow

TOOLS = Path(sys.executable).parent  # hadolint, actionlint, zizmor, check-jsonschema, st
PACKAGE = "churn_model"


@dataclass(frozen=True)
class Gate:
    """The promotion decisions of the first pipeline run and of the worse one."""

    first: dict
    worse: dict
    worse_output: str
    version_tags: dict


@dataclass(frozen=True)
class Service:
    url: str
    process: subprocess.Popen
    log: Path


def timed(project: Path, *command: str) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    result = run(project, *command)
    return result, time.monotonic() - start


@pytest.fixture(scope="module")
def project(installed) -> Path:
    return installed(3)


@pytest.fixture(scope="module")
def gate(project) -> Gate:
    decision = project / "reports" / "registry" / "promotion.json"
    first, seconds = timed(project, "uv", "run", "--no-sync", "dvc", "repro")
    print(f"\ndvc repro, level 3: first run {seconds:.1f} s")
    assert "Running stage 'promote'" in first.stdout
    first_decision = json.loads(decision.read_text())
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("  C: 1.0\n", "  C: 0.001\n"))
    worse, seconds = timed(project, "uv", "run", "--no-sync", "dvc", "repro")
    print(f"dvc repro, worse setting: {seconds:.1f} s")
    worse_decision = json.loads(decision.read_text())
    tags = run(
        project,
        *(".venv/bin/python", "-c"),
        "import json, mlflow; c = mlflow.MlflowClient('sqlite:///mlflow.db'); "
        f"v = c.get_model_version('churn-model', '{worse_decision['challenger_version']}'); "
        "r = c.get_run(v.run_id); print(json.dumps([v.tags, r.data.tags]))",
    )
    return Gate(first_decision, worse_decision, worse.stdout, json.loads(tags.stdout))


@pytest.fixture(scope="module")
def service(project, gate, tmp_path_factory) -> Service:
    """The Dockerfile's CMD, run in the project's environment on a loopback port."""
    [cmd] = [
        line
        for line in (project / "Dockerfile").read_text().splitlines()
        if line.startswith("CMD ")
    ]
    command = json.loads(cmd.removeprefix("CMD "))
    assert command[0] == "python"
    port = free_port()
    log = tmp_path_factory.mktemp("service") / "service.log"
    process = start_service(
        project, command[1:], port, log, {"SERVING_HOST": "127.0.0.1", "SERVING_PORT": str(port)}
    )
    url = f"http://127.0.0.1:{port}"
    yield Service(url, process, log)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"the service did not stop on SIGTERM:\n{log.read_text()}")
    # uvicorn shuts down gracefully, then re-raises the signal it was stopped by.
    assert process.returncode in (0, -signal.SIGTERM), log.read_text()
    assert "Finished server process" in log.read_text()


@pytest.fixture(scope="module")
def rows(project, gate) -> list[dict]:
    test = pd.read_csv(project / "data" / "processed" / "test.csv")
    return test.drop(columns="target").head(5).to_dict(orient="records")


# --- The registry and its gate ---------------------------------------------------


def test_the_first_model_becomes_champion(gate):
    assert gate.first["promoted"] is True
    assert gate.first["champion_version"] is None
    assert "first model" in gate.first["reason"]


def test_a_worse_model_leaves_the_champion_and_the_decision_is_logged(gate):
    worse = gate.worse
    version_tags, run_tags = gate.version_tags

    assert worse["promoted"] is False
    assert worse["champion_version"] == gate.first["challenger_version"]
    assert worse["challenger_score"] <= worse["champion_score"] + worse["margin"]
    assert f"v{worse['champion_version']} stays champion" in gate.worse_output
    for tags in (version_tags, run_tags):
        assert tags["gate.decision"] == "kept champion"
        assert tags["gate.reason"] == worse["reason"]
        assert float(tags["gate.challenger_score"]) == worse["challenger_score"]
        assert float(tags["gate.champion_score"]) == worse["champion_score"]


# --- The service -------------------------------------------------------------------


def test_predict_answers_from_the_champions_version(service, gate, rows):
    status, answer = request(f"{service.url}/predict", {"rows": rows})

    assert status == 200
    assert answer["model_version"] == gate.first["challenger_version"]
    assert len(answer["predictions"]) == len(rows)
    assert request(f"{service.url}/model")[1]["version"] == answer["model_version"]


def test_the_default_model_is_served_by_the_numpy_fast_path_and_says_so(service, gate):
    """Which scorer serves shows in /model, /metrics and the start-up log."""
    version = gate.first["challenger_version"]

    status, model = request(f"{service.url}/model")
    with urllib.request.urlopen(f"{service.url}/metrics", timeout=10) as response:
        metrics = response.read().decode()

    assert status == 200
    assert model["scorer"] == "numpy", model["scorer_reason"]
    assert 'scorer="numpy"} 1.0' in metrics
    assert f"version {version} (champion), scored by numpy" in service.log.read_text()


def test_bad_input_gets_a_4xx_naming_the_field(service, rows):
    missing = {key: value for key, value in rows[0].items() if key != "mean radius"}
    text = rows[0] | {"mean texture": "abc"}

    for row, field in ((missing, "mean radius"), (text, "mean texture")):
        status, answer = request(f"{service.url}/predict", {"rows": [row]})
        assert status == 422
        assert answer["detail"][0]["loc"][-1] == field
    status, answer = request(f"{service.url}/predict", {"rows": rows * 201})  # > 1000
    assert status == 422
    assert answer["detail"][0]["type"] == "too_long"


def test_metrics_are_in_prometheus_format(service):
    with urllib.request.urlopen(f"{service.url}/metrics", timeout=10) as response:
        text = response.read().decode()

    assert "# TYPE http_requests_total counter" in text
    assert 'model_info{alias="champion",name="churn-model"' in text


def test_schemathesis_finds_no_server_error(service):
    result = subprocess.run(
        [
            str(TOOLS / "schemathesis"),
            "run",
            f"{service.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "60",
            "--request-timeout",
            "10",
            "--generation-deterministic",
        ],
        cwd=service.log.parent,  # its report folder goes there, not into this repo
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "500" not in service.log.read_text()


# --- The container, CD and the generated tests -------------------------------------------


def test_dockerfile_passes_hadolint(render):
    result = run(render(3), str(TOOLS / "hadolint"), "--failure-threshold", "error", "Dockerfile")

    assert "DL3" not in result.stdout.replace("DL3066", "")  # only the info about user ids


def test_cd_workflow_passes_actionlint_and_zizmor(render):
    workflow = render(3) / ".github" / "workflows" / "cd.yml"

    run(workflow.parent, str(TOOLS / "actionlint"), workflow.name)
    audit = run(
        workflow.parent, str(TOOLS / "zizmor"), "--offline", "--min-severity=medium", workflow.name
    )
    assert "No findings" in audit.stdout + audit.stderr


def test_gitlab_cd_validates_and_deploys_by_hand(render):
    project = render(3, ci_provider="gitlab")

    run(
        project,
        str(TOOLS / "check-jsonschema"),
        "--builtin-schema",
        "vendor.gitlab-ci",
        ".gitlab-ci.yml",
    )
    text = (project / ".gitlab-ci.yml").read_text()
    assert "name: production" in text
    assert "when: manual" in text


def test_generated_test_suite_passes(project, gate):
    result, seconds = timed(project, "uv", "run", "--no-sync", "pytest", "-q")

    print(f"\ngenerated test suite, level 3: {seconds:.1f} s\n{result.stdout.splitlines()[-1]}")
    assert " passed" in result.stdout
    assert "skipped" not in result.stdout


# --- A team's own data --------------------------------------------------------------


def own_data(path: Path) -> None:
    """A CSV that is not the sample: other columns, another target's name."""
    rng = np.random.default_rng(0)
    label = np.arange(200) % 2
    frame = pd.DataFrame(
        {
            "tenure": rng.normal(label * 2.0, 1.0).round(4),
            "spend": rng.normal(0.0, 1.0, 200).round(4),
            "visits": rng.integers(0, 10, 200),
            "churned": label,
        }
    )
    frame.to_csv(path, index=False)


def in_copy(copy: Path, original: Path, *command: str) -> subprocess.CompletedProcess:
    """Run a command in the copy with the original's environment, which no copy
    can use itself (its scripts and its editable install name the original):
    the copy's src/ comes first on the path, so its code is what runs."""
    env = {
        **os.environ,
        "PATH": f"{original / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(copy / "src"),
    }
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        command, cwd=copy, capture_output=True, text=True, env=env, timeout=600, check=False
    )


def test_a_changed_margin_and_a_switch_of_data_keep_the_pipeline_green(project, gate, tmp_path):
    """Issue 17: a new registry.margin reruns the gate, which decides again; data
    with other columns, with the contract the README generates, meets a gate that
    names the new registry.model_name; once set, the pipeline and the generated
    tests pass on that data."""
    copy = tmp_path / "churn-model"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns(".venv"), symlinks=True)
    # New runs write their artifacts to the copy, not to the shared project's.
    with sqlite3.connect(copy / "mlflow.db") as db:
        db.execute(
            "UPDATE experiments SET artifact_location = replace(artifact_location, ?, ?)",
            (project.as_uri(), copy.as_uri()),
        )
    params = copy / "params.yaml"
    params.write_text(params.read_text().replace("margin: 0.002", "margin: 0.05"))

    rerun = in_copy(copy, project, "python", "-m", "dvc", "repro")

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "Running stage 'promote'" in rerun.stdout
    assert "Running stage 'register'" not in rerun.stdout
    assert "stays champion" in rerun.stdout

    own_data(copy / "data" / "raw" / "own.csv")
    contract = in_copy(
        copy,
        project,
        "python",
        "-m",
        PACKAGE,
        "contract",
        "data/raw/own.csv",
        "--target",
        "churned",
    )
    assert contract.returncode == 0, contract.stderr
    schema = copy / "src" / PACKAGE / "pipeline" / "schema.py"
    text = schema.read_text()
    start, end = text.index("COLUMNS = {"), text.index("\n}\n", text.index("COLUMNS = {"))
    schema.write_text(text[:start] + contract.stdout.strip() + text[end + 2 :])
    params.write_text(
        params.read_text()
        .replace("path: data/raw/breast_cancer.csv", "path: data/raw/own.csv")
        .replace("target: target", "target: churned")
    )

    refused = in_copy(copy, project, "python", "-m", "dvc", "repro")

    assert refused.returncode != 0
    assert "the input columns changed: 30 gone: mean radius" in refused.stderr
    assert "3 new: tenure, spend, visits" in refused.stderr
    assert "set `registry.model_name: churn-model-v2` in params.yaml" in refused.stderr

    params.write_text(
        params.read_text().replace('model_name: "churn-model"', 'model_name: "churn-model-v2"')
    )
    switched = in_copy(copy, project, "python", "-m", "dvc", "repro")

    assert switched.returncode == 0, switched.stdout + switched.stderr
    assert "first model" in switched.stdout
    # The generated tests that read the data and the contract; the rest of the
    # suite runs in test_generated_test_suite_passes.
    tests = in_copy(
        copy,
        project,
        *("python", "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"),
        "tests/pipeline/test_stages.py::test_the_stages_of_dvc_yaml_run_end_to_end",
        "tests/pipeline/test_stages.py::test_prepare_stops_on_bad_data_and_names_the_column",
        "tests/pipeline/test_sample.py",
        "tests/test_config.py",
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "data.path, data/raw/own.csv, is not the sample" in tests.stdout
