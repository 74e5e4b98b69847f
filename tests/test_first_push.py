"""First push: each generated project's CI, replayed on a fresh runner, is green.

A project is generated with the CLI, as a user does, and every job of every
workflow is replayed from the workflow files by `tests/ci_replay.py`. With no
secrets set, the only jobs that may fail are those that need the team's
servers, and they must fail saying which secret is missing.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.ci_replay import Job, _evaluate_if, replay, summary
from tests.helpers import free_port, request, run, start_service
from tests.team_stack import TeamStack
from tests.test_level_4 import ROWS, reference, send

CLI = Path(sys.executable).parent / "mlops-levels"
# The jobs that need the team's servers, by provider: with the secrets unset
# they must refuse, naming the first missing one.
NEEDS_THE_TEAM = {
    "github": {
        ("cd.yml", "pipeline"): "The MLFLOW_TRACKING_URI secret is not set",
        ("monitor.yml", "monitor"): "The MLFLOW_TRACKING_URI secret is not set",
        ("retrain.yml", "retrain"): "The MLFLOW_TRACKING_URI secret is not set",
    },
    "gitlab": {
        (".gitlab-ci.yml[push]", "pipeline"): "The MLFLOW_TRACKING_URI CI/CD variable is not set",
        (".gitlab-ci.yml[monitor]", "monitor"): "The MLFLOW_TRACKING_URI CI/CD variable is not set",
        (".gitlab-ci.yml[retrain]", "retrain"): "The MLFLOW_TRACKING_URI CI/CD variable is not set",
    },
}


def generate(tmp_path: Path, level: int, ci_provider: str) -> Path:
    project = tmp_path / "churn-model"
    subprocess.run(
        [str(CLI), "new", str(project), "--level", str(level), "--defaults",
         "--data", f"ci_provider={ci_provider}"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return project


def refusals_are_the_only_failures(jobs: list[Job], ci_provider: str) -> None:
    expected = NEEDS_THE_TEAM[ci_provider]
    for job in jobs:
        key = (job.workflow, job.name)
        if job.outcome == "failure":
            assert key in expected, f"{job} failed on a fresh runner:\n{job.log}"
            assert expected[key] in job.log, f"{job} failed, but not on its secret:\n{job.log}"
    # A job is skipped only after a refusal in its own workflow or pipeline.
    refused = {job.workflow for job in jobs if job.outcome == "failure"}
    skipped = [job for job in jobs if job.outcome == "skipped" and job.workflow not in refused]
    assert not skipped, f"jobs skipped with nothing refused before them: {skipped}"


@pytest.mark.slow
@pytest.mark.replay
@pytest.mark.parametrize("ci_provider", ["github", "gitlab"])
@pytest.mark.parametrize("level", [2, 3, 4])
def test_every_job_passes_on_a_fresh_runner_except_refusals_that_name_the_secret(
    tmp_path, level, ci_provider
):
    """A team's first push must be green: every job that needs no team server passes.

    The jobs that need one (the CD gate, monitor, retrain) must stop with the
    documented error naming the secret rather than pass against a throwaway
    store on the runner, which is what a new team sees before it sets them.
    """
    print(f"\nlevel {level}, {ci_provider}, each job's wall time:")
    jobs = replay(generate(tmp_path, level, ci_provider), tmp_path / "runner")
    refusals_are_the_only_failures(jobs, ci_provider)
    assert any(job.outcome == "success" for job in jobs), summary(jobs)


# --- With the secrets set, the team's jobs run against the team's servers ----------------


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    """A loopback receiver for the deploy hook and the alerts: its URL, and what was posted."""
    posted: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posted.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", posted
    server.shutdown()


def succeeded(jobs: list[Job], *names: str) -> None:
    """None of the jobs failed, and each named one ran and passed."""
    failed = [job for job in jobs if job.outcome == "failure"]
    assert not failed, "\n\n".join(f"{job}\n{job.log}" for job in failed)
    outcomes = {job.name: job.outcome for job in jobs}
    assert all(outcomes.get(name) == "success" for name in names), summary(jobs)


@pytest.mark.slow
@pytest.mark.replay
@pytest.mark.parametrize("ci_provider", ["github", "gitlab"])
def test_team_jobs_run_green_against_the_team_stack(
    tmp_path, team_stack: TeamStack, webhook, ci_provider
):
    """The jobs that refuse without the team's servers pass once the secrets point at
    them: CD's gate promotes in the team registry and deploys; the service, on that
    champion, logs its traffic to PostgreSQL; the scheduled monitor reads it and finds
    no drift, and the scheduled retrain decides and posts its decision."""
    url, posted = webhook
    project = generate(tmp_path, 4, ci_provider)
    stores = {
        "MLFLOW_TRACKING_URI": team_stack.mlflow_tracking_uri,
        "PREDICTION_LOG_URL": team_stack.database(f"replay_{ci_provider}"),
    }
    secrets = stores | {"PRODUCTION_DEPLOY_HOOK": url, "ALERT_WEBHOOK_URL": url}

    delivery = replay(project, tmp_path / "delivery", secrets, only={"cd.yml", "push"})
    succeeded(delivery, "pipeline", "deploy")
    status, alias = request(
        f"{team_stack.mlflow_tracking_uri}/api/2.0/mlflow/registered-models/alias"
        "?name=churn-model&alias=champion"
    )
    assert status == 200, alias
    assert any("image" in body for body in posted), posted

    run(project, "uv", "sync", "--extra", "team", "--quiet")
    port = free_port()
    argv = ["-m", "churn_model", "serve", "--port", str(port)]
    service = start_service(project, argv, port, tmp_path / "serve.log", env=stores)
    try:
        send(f"http://127.0.0.1:{port}", reference(project).sample(ROWS, random_state=3))
    finally:
        service.send_signal(signal.SIGTERM)  # flushes the log's last rows
        service.wait(timeout=30)

    schedules = {"monitor.yml", "retrain.yml", "monitor", "retrain"}
    loop = replay(project, tmp_path / "loop", secrets, only=schedules)
    succeeded(loop, "monitor", "retrain")
    assert any("Retraining of" in body.get("text", "") for body in posted), posted


# --- Each refusal names the secret that is missing, whichever it is -----------------------

STORES = ["MLFLOW_TRACKING_URI", "PREDICTION_LOG_URL"]
SET = {"MLFLOW_TRACKING_URI": "http://mlflow.invalid", "PREDICTION_LOG_URL": "sqlite:///p.db"}


def bash(script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
    )


# How each provider refuses: exit code, message, and the command it gives.
REFUSALS = {
    "github": (1, "::error::The {} secret is not set: ", "gh secret set {}"),
    "gitlab": (3, "The {} CI/CD variable is not set: ", "glab variable set {} --protected"),
}


def store_check(project: Path, ci_provider: str, job: str) -> str:
    """The lines of a job that check its stores, as the workflow file has them."""
    if ci_provider == "gitlab":
        return "\n".join(
            yaml.safe_load((project / ".gitlab-ci.yml").read_text())[job]["script"][:2]
        )
    workflow = yaml.safe_load((project / ".github" / "workflows" / f"{job}.yml").read_text())
    steps = workflow["jobs"][job]["steps"]
    (check,) = [
        step for step in steps if step.get("name") == "Check that the team's stores are set"
    ]
    return check["run"]


@pytest.mark.parametrize("ci_provider", ["github", "gitlab"])
@pytest.mark.parametrize("job", ["monitor", "retrain"])
@pytest.mark.parametrize("missing", STORES)
def test_scheduled_jobs_name_whichever_store_is_not_set(render, ci_provider, job, missing):
    """Each check names the store that is missing, whichever it is.

    An unset secret is an empty string on GitHub and an absent variable on
    GitLab. GitLab's check exits 3, not 1, which monitor's allow_failure takes
    for drift, so that the pipeline fails.
    """
    check = store_check(render(4, ci_provider=ci_provider), ci_provider, job)
    code, message, command = REFUSALS[ci_provider]
    unset = (
        SET | {missing: ""}
        if ci_provider == "github"
        else {name: value for name, value in SET.items() if name != missing}
    )

    refused = bash(check, unset)
    passed = bash(check, SET)

    assert refused.returncode == code, refused.stdout
    assert message.format(missing) in refused.stdout
    assert command.format(missing) in refused.stdout
    assert passed.returncode == 0, passed.stdout


@pytest.mark.parametrize("branch", ["main", "feature"])
def test_gitlab_pipeline_requires_the_registry_on_the_default_branch_only(render, branch):
    """Elsewhere `pipeline` is CI's smoke run, which a throwaway store suits."""
    config = yaml.safe_load((render(3, ci_provider="gitlab") / ".gitlab-ci.yml").read_text())
    check = "\n".join(config["pipeline"]["script"][:2])

    result = bash(check, {"CI_COMMIT_BRANCH": branch, "CI_DEFAULT_BRANCH": "main"})

    assert result.returncode == (3 if branch == "main" else 0), result.stdout


# --- The replay's reading of `if:` ------------------------------------------------------

NEEDS_FAILED = {"needs": {"monitor": {"result": "failure", "outputs": {"status": ""}}}}


@pytest.mark.parametrize(
    ("condition", "context", "success", "runs"),
    [
        # No status function: GitHub adds `success() &&`.
        ("needs.monitor.outputs.status == '1'", NEEDS_FAILED, False, False),
        # With one, the job runs after a failure: '' is not '0'.
        ("${{ !cancelled() && needs.monitor.outputs.status != '0' }}", NEEDS_FAILED, False, True),
        ("steps.monitor.outputs.status != '0'", {"steps": {}}, True, False),
        ("${{ inputs.reason || 'weekly schedule' }}", {"inputs": {}}, True, True),
        ("github.ref_name == 'MAIN'", {"github": {"ref_name": "main"}}, True, True),
    ],
)
def test_replay_reads_if_conditions_as_github_does(condition, context, success, runs):
    """The replay decides which steps and jobs run: it must decide as GitHub would.

    A missing step output is null, which GitHub compares as the number 0, so
    `!= '0'` is false; strings compare ignoring case.
    """
    assert _evaluate_if(condition, context, success=success) is runs
