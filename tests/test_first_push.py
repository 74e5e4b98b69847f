"""First push: each generated project's CI, replayed on a fresh runner, is green.

A project is generated with the CLI, as a user does, and every job of every
workflow is replayed from the workflow files by `tests/ci_replay.py`. With no
secrets set, the only jobs that may fail are those that need the team's
servers, and they must fail saying which secret is missing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.ci_replay import Job, _evaluate_if, replay, summary

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


def github_check(project: Path, workflow: str) -> str:
    jobs = yaml.safe_load((project / ".github" / "workflows" / workflow).read_text())["jobs"]
    steps = [step for job in jobs.values() for step in job.get("steps", [])]
    (check,) = [
        step for step in steps if step.get("name") == "Check that the team's stores are set"
    ]
    return check["run"]


@pytest.mark.parametrize("workflow", ["monitor.yml", "retrain.yml"])
@pytest.mark.parametrize("missing", STORES)
def test_github_scheduled_jobs_name_whichever_store_secret_is_empty(render, workflow, missing):
    """An unset secret is an empty string on GitHub: the check names it, and stops the job."""
    script = github_check(render(4, ci_provider="github"), workflow)

    refused = bash(script, SET | {missing: ""})
    passed = bash(script, SET)

    assert refused.returncode == 1
    assert f"::error::The {missing} secret is not set: " in refused.stdout
    assert f"gh secret set {missing}" in refused.stdout
    assert passed.returncode == 0, passed.stdout


@pytest.mark.parametrize("job", ["monitor", "retrain"])
@pytest.mark.parametrize("missing", STORES)
def test_gitlab_scheduled_jobs_name_whichever_store_variable_is_unset(render, job, missing):
    """Not 1, which monitor's allow_failure takes for drift, so the pipeline fails."""
    config = yaml.safe_load((render(4, ci_provider="gitlab") / ".gitlab-ci.yml").read_text())
    check = "\n".join(config[job]["script"][:2])

    refused = bash(check, {k: v for k, v in SET.items() if k != missing})
    passed = bash(check, SET)

    assert refused.returncode == 3
    assert f"The {missing} CI/CD variable is not set: " in refused.stdout
    assert f"glab variable set {missing} --protected" in refused.stdout
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
