"""Tier 1 for level 4 (Continuous): scheduled monitoring and retraining in CI, and
the runbook, checked on the render.

The workflows and GitLab jobs are linted and validated, and their shell runs for
real: bash runs each script as the CI service would, with a stand-in `uv` that
plays the exit codes (and decision.json) of `monitor` and `retrain`, and the
alerts post to a webhook on loopback that the test reads. GitLab's rules are
evaluated for each kind of pipeline by a small evaluator of the `if:` syntax
the file uses.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from mlops_levels.detect import PASS, Project
from tests.helpers import LADDER, run

TOOLS = Path(sys.executable).parent  # actionlint, zizmor, check-jsonschema
PACKAGE = "churn_model"
WORKFLOWS = ["monitor.yml", "retrain.yml"]
RUN_URL = "https://github.example/acme/churn/actions/runs/7"
# A value that would break JSON or shell if it were spliced into either.
HOSTILE = 'acme/"churn" $(touch pwned) `id` \\ {}'

# A stand-in for uv: it records its arguments, and `monitor` and `retrain` exit
# with the codes the test asks for; `retrain` writes the decision it is given.
FAKE_UV = """#!/usr/bin/env bash
echo "$*" >> "$FAKE_UV_LOG"
case " $* " in
  *" monitor "*) exit "${FAKE_MONITOR_EXIT:-0}" ;;
  *" retrain "*)
    if [ -n "${FAKE_DECISION:-}" ]; then
      mkdir -p reports/retraining
      printf '%s' "$FAKE_DECISION" > reports/retraining/decision.json
    fi
    exit "${FAKE_RETRAIN_EXIT:-0}" ;;
esac
"""


# --- Fixtures and helpers ---------------------------------------------------------


@pytest.fixture(scope="module")
def github(render) -> Path:
    return render(4, ci_provider="github")


@pytest.fixture(scope="module")
def gitlab(render) -> Path:
    return render(4, ci_provider="gitlab")


def load_workflow(project: Path, name: str) -> dict:
    workflow = yaml.safe_load((project / ".github" / "workflows" / name).read_text())
    # PyYAML reads the key `on` as the boolean true.
    workflow["on"] = workflow.pop(True)
    return workflow


def step_named(job: dict, name: str) -> dict:
    [step] = [step for step in job["steps"] if step.get("name") == name]
    return step


@dataclass
class Webhook:
    """An alert webhook on loopback that keeps what it receives."""

    url: str
    received: list[dict] = field(default_factory=list)
    status: int = 200


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.received.append(
                {"content_type": self.headers["Content-Type"], "body": json.loads(body)}
            )
            self.send_response(hook.status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_port}/hooks/alert"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield hook
    server.shutdown()
    server.server_close()


@pytest.fixture
def shell(tmp_path) -> Iterator:
    """Run a CI script with bash in a scratch folder, with the stand-in uv first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uv").write_text(FAKE_UV)
    (bin_dir / "uv").chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    work = tmp_path / "work"
    work.mkdir()
    log = tmp_path / "uv.log"

    def _run(script: str, flags: str, **env: str) -> subprocess.CompletedProcess:
        base = {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(tmp_path),
            "FAKE_UV_LOG": str(log),
            # The team's stores, without which monitor and retrain stop in CI.
            "MLFLOW_TRACKING_URI": "http://mlflow.invalid",
            "PREDICTION_LOG_URL": "sqlite:///predictions.db",
        }
        return subprocess.run(
            ["bash", *flags.split(), "-c", script],
            cwd=work,
            env=base | env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    _run.work = work
    _run.uv_calls = lambda: log.read_text().splitlines() if log.exists() else []
    yield _run


# GitHub runs a `run:` step with `bash -e`; GitLab's runner runs a job's script
# with `set -eo pipefail`.
GITHUB_BASH = "--noprofile --norc -e"
GITLAB_BASH = "--noprofile --norc -eo pipefail"


# --- GitHub Actions ---------------------------------------------------------------


@pytest.mark.parametrize("name", WORKFLOWS)
def test_workflow_passes_actionlint_and_zizmor(github, name):
    folder = github / ".github" / "workflows"

    run(folder, str(TOOLS / "actionlint"), name)
    audit = run(folder, str(TOOLS / "zizmor"), "--offline", "--min-severity=medium", name)
    assert "No findings" in audit.stdout + audit.stderr


def test_every_workflow_passes_zizmor_as_an_auditor(github):
    """The auditor persona adds the pedantic audits, secrets outside a dedicated
    environment and write permissions without a comment among them."""
    audit = run(github, str(TOOLS / "zizmor"), "--offline", "--persona", "auditor", ".github")

    assert "No findings" in audit.stdout + audit.stderr


@pytest.mark.parametrize("name", WORKFLOWS)
def test_workflow_pins_actions_and_grants_each_job_only_what_it_needs(github, name):
    workflow = load_workflow(github, name)

    assert workflow["permissions"] == {}
    for job_id, job in workflow["jobs"].items():
        assert "timeout-minutes" in job
        expected = {"actions": "write"} if (name, job_id) == ("monitor.yml", "retrain") else None
        assert job["permissions"] in ({}, {"contents": "read"}, expected), job_id
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch("[0-9a-f]{40}", step["uses"].partition("@")[2])
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_no_workflow_expands_an_expression_inside_a_shell_script(github):
    for path in (github / ".github" / "workflows").glob("*.yml"):
        for job in load_workflow(github, path.name)["jobs"].values():
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), (path.name, step.get("name"))


def test_monitor_runs_every_day_and_by_hand_and_retrain_every_week_and_by_hand(github):
    monitor = load_workflow(github, "monitor.yml")
    retrain = load_workflow(github, "retrain.yml")

    [daily] = monitor["on"]["schedule"]
    assert daily["cron"].split()[2:] == ["*", "*", "*"]
    assert "workflow_dispatch" in monitor["on"]
    [weekly] = retrain["on"]["schedule"]
    assert weekly["cron"].split()[2:4] == ["*", "*"] and weekly["cron"].split()[4] != "*"
    assert retrain["on"]["workflow_dispatch"]["inputs"]["reason"]["required"] is True
    # Two retrains never overlap, and the second is not cancelled but waits.
    assert "group" in retrain["concurrency"]
    assert retrain["concurrency"]["cancel-in-progress"] is False


def test_monitor_starts_retrain_only_on_drift(github):
    jobs = load_workflow(github, "monitor.yml")["jobs"]

    dispatching = {
        job_id
        for job_id, job in jobs.items()
        for step in job["steps"]
        if "gh workflow run retrain.yml" in step.get("run", "")
    }
    assert dispatching == {"retrain"}
    assert jobs["retrain"]["needs"] == "monitor"
    assert jobs["retrain"]["if"] == "needs.monitor.outputs.status == '1'"
    assert jobs["monitor"]["outputs"]["status"] == "${{ steps.monitor.outputs.status }}"
    [step] = jobs["retrain"]["steps"]
    assert '--ref "$REF"' in step["run"]
    assert step["env"]["REF"] == "${{ github.ref_name }}"


@pytest.mark.parametrize("code", [0, 1, 2])
def test_monitor_step_keeps_the_exit_code_as_its_output_and_passes(github, shell, code):
    step = step_named(
        load_workflow(github, "monitor.yml")["jobs"]["monitor"],
        "Compare recent traffic with the training data",
    )
    output = shell.work / "github_output"

    result = shell(step["run"], GITHUB_BASH, GITHUB_OUTPUT=str(output), FAKE_MONITOR_EXIT=str(code))

    assert result.returncode == 0, result.stderr
    assert output.read_text() == f"status={code}\n"
    assert shell.uv_calls() == [f"run python -m {PACKAGE} monitor"]


def test_monitor_fails_on_too_little_data_and_retrain_when_refused(github):
    monitor = load_workflow(github, "monitor.yml")["jobs"]["monitor"]
    retrain = load_workflow(github, "retrain.yml")["jobs"]["retrain"]

    fail_monitor = step_named(monitor, "Fail on too little data or an error")
    fail_retrain = step_named(retrain, "Fail when retraining was refused or failed")

    assert fail_monitor["if"] == (
        "steps.monitor.outputs.status != '0' && steps.monitor.outputs.status != '1'"
    )
    assert fail_retrain["if"] == "steps.retrain.outputs.status != '0'"
    for step in (fail_monitor, fail_retrain):
        assert step["run"].rstrip().endswith("exit 1")


def monitor_alert(github) -> dict:
    return load_workflow(github, "monitor.yml")["jobs"]["alert"]


def test_monitor_alerts_on_drift_and_on_failure_but_not_when_all_is_well(github):
    alert = monitor_alert(github)

    assert alert["needs"] == ["monitor", "retrain"]
    assert alert["if"] == "${{ !cancelled() && needs.monitor.outputs.status != '0' }}"
    assert alert["permissions"] == {}


@pytest.mark.parametrize(
    ("status", "retrain", "words"),
    [
        ("1", "success", ["Drift in", "Retraining started"]),
        ("1", "failure", ["Drift in", "Starting retrain.yml failed"]),
        ("2", "skipped", ["could not decide", "exit 2"]),
        ("", "skipped", ["failed before it decided"]),
    ],
)
def test_monitor_alert_posts_json_text_to_the_webhook(
    github, shell, webhook, status, retrain, words
):
    [step] = monitor_alert(github)["steps"]

    result = shell(
        step["run"],
        GITHUB_BASH,
        ALERT_WEBHOOK_URL=webhook.url,
        STATUS=status,
        RETRAIN=retrain,
        REPOSITORY=HOSTILE,
        RUN_URL=RUN_URL,
    )

    assert result.returncode == 0, result.stderr
    [alert] = webhook.received
    assert alert["content_type"] == "application/json"
    assert list(alert["body"]) == ["text"]
    text = alert["body"]["text"]
    assert HOSTILE in text and RUN_URL in text and "docs/runbook.md" in text
    for word in words:
        assert word in text
    assert not (shell.work / "pwned").exists()


def test_alert_fails_the_step_when_the_webhook_refuses_it(github, shell, webhook):
    [step] = monitor_alert(github)["steps"]
    webhook.status = 500

    result = shell(step["run"], GITHUB_BASH, ALERT_WEBHOOK_URL=webhook.url, STATUS="2")

    assert result.returncode != 0
    assert len(webhook.received) == 1


@pytest.mark.parametrize("name", WORKFLOWS)
def test_alert_without_a_webhook_is_skipped_with_a_notice(github, shell, name):
    if name == "monitor.yml":
        [step] = monitor_alert(github)["steps"]
    else:
        job = load_workflow(github, name)["jobs"]["retrain"]
        step = step_named(job, "Post the decision to the alert webhook")

    result = shell(step["run"], GITHUB_BASH, ALERT_WEBHOOK_URL="", STATUS="1")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("::notice::ALERT_WEBHOOK_URL is not set")


def test_retrain_step_keeps_the_exit_code_and_runs_retrain(github, shell):
    step = step_named(
        load_workflow(github, "retrain.yml")["jobs"]["retrain"],
        "Retrain, and promote only a better model",
    )
    output = shell.work / "github_output"

    result = shell(
        step["run"],
        GITHUB_BASH,
        GITHUB_OUTPUT=str(output),
        FAKE_RETRAIN_EXIT="1",
        WHY="line one\n::error::injected",
    )

    assert result.returncode == 0, result.stderr
    assert output.read_text() == "status=1\n"
    assert shell.uv_calls() == [f"run python -m {PACKAGE} retrain"]
    # The reason is printed on one line, so it cannot start a workflow command.
    assert "Retraining, because: line one ::error::injected" in result.stdout
    assert not any(line.startswith("::") for line in result.stdout.splitlines())


@pytest.mark.parametrize(
    ("status", "decision", "words"),
    [
        ("0", {"decision": "promoted", "reason": "roc_auc 0.991 > 0.987"}, ["promoted"]),
        ("0", {"decision": "skipped", "reason": "12 labelled rows < 100"}, ["skipped"]),
        (
            "1",
            {"decision": "refused", "reason": 'column "mean radius": -3 < 0'},
            ["FAILED", "refused", "docs/runbook.md"],
        ),
        ("1", None, ["FAILED", "no decision"]),
    ],
)
def test_retrain_alert_posts_the_decision_and_its_reason(
    github, shell, webhook, status, decision, words
):
    job = load_workflow(github, "retrain.yml")["jobs"]["retrain"]
    step = step_named(job, "Post the decision to the alert webhook")
    if decision is not None:
        (shell.work / "reports" / "retraining").mkdir(parents=True)
        (shell.work / "reports" / "retraining" / "decision.json").write_text(json.dumps(decision))

    result = shell(
        step["run"],
        GITHUB_BASH,
        ALERT_WEBHOOK_URL=webhook.url,
        STATUS=status,
        REPOSITORY="acme/churn",
        RUN_URL=RUN_URL,
        WHY=HOSTILE,
    )

    assert result.returncode == 0, result.stderr
    [alert] = webhook.received
    text = alert["body"]["text"]
    assert HOSTILE in text and RUN_URL in text
    if decision is not None:
        assert decision["reason"] in text
    for word in words:
        assert word in text
    assert step["if"] == "${{ !cancelled() }}"


# --- GitLab CI --------------------------------------------------------------------


def gitlab_ci(project: Path) -> dict:
    return yaml.safe_load((project / ".gitlab-ci.yml").read_text())


def test_gitlab_ci_file_validates_against_the_gitlab_ci_schema(gitlab):
    run(
        gitlab,
        str(TOOLS / "check-jsonschema"),
        "--builtin-schema",
        "vendor.gitlab-ci",
        ".gitlab-ci.yml",
    )


def gitlab_if(expression: str, variables: dict[str, str]) -> bool:
    """GitLab's `rules:if` for the forms this file uses: `$A`, `$A == "x"`,
    `$A == $B`, `!=`, joined by `&&` and `||` (no parentheses)."""
    assert "(" not in expression, expression

    def value(token: str) -> str | None:
        token = token.strip()
        if token.startswith("$"):
            return variables.get(token[1:])
        return token.strip('"')

    def atom(text: str) -> bool:
        if match := re.fullmatch(r"\s*(\S+)\s*(==|!=)\s*(\S+)\s*", text):
            left, operator, right = match.groups()
            return (value(left) == value(right)) == (operator == "==")
        return bool(value(text))

    return any(
        all(atom(part) for part in alternative.split("&&"))
        for alternative in expression.split("||")
    )


def gitlab_jobs(config: dict, variables: dict[str, str]) -> dict[str, str]:
    """The jobs a pipeline with these variables holds, each with its `when`."""
    assert any(gitlab_if(rule["if"], variables) for rule in config["workflow"]["rules"])
    jobs = {}
    for name, job in config.items():
        if name.startswith(".") or not isinstance(job, dict) or "stage" not in job:
            continue
        rules = job.get("rules", config.get(job.get("extends", ""), {}).get("rules"))
        when = "on_success"
        for rule in rules or []:
            if "if" not in rule or gitlab_if(rule["if"], variables):
                when = rule.get("when", "on_success")
                break
        else:
            if rules:
                when = "never"
        if when != "never":
            jobs[name] = when
    # Every job that one of them needs is there too, unless the need is optional.
    for name in jobs:
        for need in config[name].get("needs", []):
            if isinstance(need, str) or not need.get("optional"):
                assert (need if isinstance(need, str) else need["job"]) in jobs, (name, need)
    return jobs


MAIN = {"CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"}
PIPELINES = {
    "push to main": ({"CI_PIPELINE_SOURCE": "push"}, {"lint", "test", "pipeline", "build-image"}),
    "merge request": (
        {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_COMMIT_BRANCH": ""},
        {"lint", "test", "pipeline"},
    ),
    "daily schedule": (
        {"CI_PIPELINE_SOURCE": "schedule", "MLOPS_TASK": "monitor"},
        {"monitor", "retrain"},
    ),
    "weekly schedule": (
        {"CI_PIPELINE_SOURCE": "schedule", "MLOPS_TASK": "retrain"},
        {"retrain"},
    ),
    "monitor by hand": (
        {"CI_PIPELINE_SOURCE": "web", "MLOPS_TASK": "monitor"},
        {"monitor", "retrain"},
    ),
    "retrain by hand": ({"CI_PIPELINE_SOURCE": "web", "MLOPS_TASK": "retrain"}, {"retrain"}),
    "a team's own schedule": (
        {"CI_PIPELINE_SOURCE": "schedule"},
        {"lint", "test", "pipeline", "build-image"},
    ),
}


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_gitlab_schedules_monitor_and_retrain_and_nothing_else(gitlab, pipeline):
    variables, expected = PIPELINES[pipeline]

    jobs = gitlab_jobs(gitlab_ci(gitlab), MAIN | variables)

    # deploy, by hand, follows build-image on the default branch.
    assert set(jobs) - {"deploy"} == expected
    assert ("deploy" in jobs) == ("build-image" in jobs)


def test_gitlab_monitor_lets_drift_through_and_retrain_never_overlaps(gitlab):
    config = gitlab_ci(gitlab)

    assert config["monitor"]["allow_failure"] == {"exit_codes": [1]}
    assert config["monitor"]["artifacts"]["reports"]["dotenv"] == "monitor.env"
    assert config["monitor"]["artifacts"]["when"] == "always"
    assert config["retrain"]["needs"] == [{"job": "monitor", "optional": True}]
    assert config["retrain"]["resource_group"] == "retrain"
    for job in ("monitor", "retrain"):
        assert config[job]["interruptible"] is False


@pytest.mark.parametrize("code", [0, 1, 2])
def test_gitlab_monitor_exits_with_monitors_code_and_hands_it_to_retrain(gitlab, shell, code):
    script = "\n".join(gitlab_ci(gitlab)["monitor"]["script"])

    result = shell(script, GITLAB_BASH, FAKE_MONITOR_EXIT=str(code))

    assert result.returncode == code, result.stderr
    assert (shell.work / "monitor.env").read_text() == f"MONITOR_STATUS={code}\n"
    assert shell.uv_calls()[-1] == f"run python -m {PACKAGE} monitor"


@pytest.mark.parametrize(
    ("variables", "retrains", "why"),
    [
        ({"MLOPS_TASK": "", "MONITOR_STATUS": "0"}, False, None),
        ({"MLOPS_TASK": "", "MONITOR_STATUS": "1"}, True, "drift found by monitor"),
        ({"MLOPS_TASK": "monitor", "MONITOR_STATUS": "1"}, True, "drift found by monitor"),
        ({"MLOPS_TASK": "retrain", "RETRAIN_REASON": HOSTILE}, True, HOSTILE),
        ({"MLOPS_TASK": "retrain", "CI_PIPELINE_SOURCE": "schedule"}, True, "schedule"),
    ],
)
def test_gitlab_retrain_runs_only_on_drift_or_when_asked(gitlab, shell, variables, retrains, why):
    script = "\n".join(gitlab_ci(gitlab)["retrain"]["script"])

    result = shell(script, GITLAB_BASH, **variables)

    assert result.returncode == 0, result.stderr
    assert (f"run python -m {PACKAGE} retrain" in shell.uv_calls()) == retrains
    if retrains:
        assert (shell.work / "retrain.why").read_text() == f"{why}\n"
        assert (shell.work / "retrain.status").read_text() == "0\n"
    else:
        assert "No drift: nothing to retrain." in result.stdout
    assert not (shell.work / "pwned").exists()


@pytest.mark.parametrize(
    ("job_status", "monitor_status", "words"),
    [
        ("success", "0", None),
        ("failed", "1", ["Drift in", "Retraining runs next"]),
        ("failed", "2", ["could not decide"]),
        ("failed", None, ["failed before it decided"]),
        ("canceled", "1", None),
    ],
)
def test_gitlab_monitor_alerts_on_drift_and_failure(
    gitlab, shell, webhook, job_status, monitor_status, words
):
    script = "\n".join(gitlab_ci(gitlab)["monitor"]["after_script"])
    if monitor_status is not None:
        (shell.work / "monitor.env").write_text(f"MONITOR_STATUS={monitor_status}\n")

    result = shell(
        script,
        GITLAB_BASH,
        ALERT_WEBHOOK_URL=webhook.url,
        CI_JOB_STATUS=job_status,
        CI_PROJECT_PATH=HOSTILE,
        CI_JOB_URL=RUN_URL,
    )

    assert result.returncode == 0, result.stderr
    assert shell.uv_calls() == ["cache prune --ci"]
    if words is None:
        assert webhook.received == []
        return
    [alert] = webhook.received
    assert alert["content_type"] == "application/json"
    text = alert["body"]["text"]
    assert HOSTILE in text and RUN_URL in text and "docs/runbook.md" in text
    for word in words:
        assert word in text


@pytest.mark.parametrize(
    ("job_status", "ran", "decision", "words"),
    [
        ("success", False, None, None),  # no drift: nothing ran, nothing to say
        ("success", True, {"decision": "kept", "reason": "no better"}, ["kept", "no better"]),
        (
            "failed",
            True,
            {"decision": "refused", "reason": "label 7 is not a class"},
            ["FAILED", "refused", "label 7 is not a class", "docs/runbook.md"],
        ),
        ("failed", False, None, ["FAILED", "no decision"]),
        ("canceled", True, None, None),
    ],
)
def test_gitlab_retrain_alerts_with_the_decision(
    gitlab, shell, webhook, job_status, ran, decision, words
):
    script = "\n".join(gitlab_ci(gitlab)["retrain"]["after_script"])
    if ran:
        (shell.work / "retrain.status").write_text("0\n")
        (shell.work / "retrain.why").write_text("weekly\n")
    if decision is not None:
        (shell.work / "reports" / "retraining").mkdir(parents=True)
        (shell.work / "reports" / "retraining" / "decision.json").write_text(json.dumps(decision))

    result = shell(
        script,
        GITLAB_BASH,
        ALERT_WEBHOOK_URL=webhook.url,
        CI_JOB_STATUS=job_status,
        CI_PROJECT_PATH="acme/churn",
        CI_JOB_URL=RUN_URL,
    )

    assert result.returncode == 0, result.stderr
    if words is None:
        assert webhook.received == []
        return
    [alert] = webhook.received
    text = alert["body"]["text"]
    assert RUN_URL in text
    for word in words:
        assert word in text


def test_gitlab_alert_without_a_webhook_is_skipped_with_a_note(gitlab, shell):
    script = "\n".join(gitlab_ci(gitlab)["monitor"]["after_script"])
    (shell.work / "monitor.env").write_text("MONITOR_STATUS=1\n")

    result = shell(script, GITLAB_BASH, ALERT_WEBHOOK_URL="", CI_JOB_STATUS="failed")

    assert result.returncode == 0, result.stderr
    assert "ALERT_WEBHOOK_URL is not set: no alert sent." in result.stdout


# --- Both, and the runbook ----------------------------------------------------------


@pytest.mark.parametrize("ci_provider", ["github", "gitlab"])
def test_assessment_finds_retraining_in_ci(render, ci_provider):
    [level] = [level for level in LADDER if level["level"] == 4]
    [criterion] = [c for c in level["criteria"] if c["id"] == "L4-retraining"]

    finding = Project(render(4, ci_provider=ci_provider), ask=lambda _: None).evaluate(criterion)

    assert finding.status == PASS, finding.evidence


@pytest.mark.parametrize("ci_provider", ["github", "gitlab", "none"])
def test_runbook_names_the_commands_for_drift_a_failed_gate_and_a_rollback(render, ci_provider):
    runbook = (render(4, ci_provider=ci_provider) / "docs" / "runbook.md").read_text()

    for text in (
        "## Drift",
        "## Too little data (exit 2)",
        "## Failed gate",
        "## Roll back",
        "reports/monitoring/drift.html",
        "reports/retraining/decision.json",
        f"uv run {PACKAGE} monitor",
        f"uv run {PACKAGE} retrain",
        f'uv run {PACKAGE} rollback --reason "',
        "uv run dvc add",
        "uv run dvc push",
        "hot_swap.interval_seconds",
        "/model",
    ):
        assert text in runbook, text
    by_hand = {
        "github": "gh workflow run retrain.yml --field reason=",
        "gitlab": "MLOPS_TASK=retrain",
        "none": "This project has no CI",
    }
    assert by_hand[ci_provider] in runbook
