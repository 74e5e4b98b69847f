"""Tier 1: the security baseline of the CI files, read from the render.

The GitHub workflows (actions pinned to SHAs, no `pull_request_target`, least
privilege, secrets only through `env:`/`with:`), GitLab CI (no secret values),
and pip-audit in CI on both providers.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from tests.security import PIPELINE, is_secret, project, secret_names, walk, workflows

PROVIDERS = ["github", "gitlab"]


# The only write permissions a job may ask for, by workflow and job.
WRITE_PERMISSIONS = {("cd.yml", "image"): {"packages"}, ("monitor.yml", "retrain"): {"actions"}}
# The events a workflow may run on: none of them gives a fork's code secrets.
TRIGGERS = {"push", "pull_request", "schedule", "workflow_dispatch"}


# --- GitHub Actions ---------------------------------------------------------------


@pytest.mark.parametrize("level", PIPELINE)
def test_every_action_is_pinned_to_a_commit_sha(render, level):
    for name, (_, workflow) in workflows(project(render, level)).items():
        uses = [value for path, value in walk(workflow) if path[-1:] == ("uses",)]
        assert uses, name
        for action in uses:
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), (name, action)


@pytest.mark.parametrize("level", PIPELINE)
def test_no_workflow_runs_on_pull_request_target(render, level):
    for name, (text, workflow) in workflows(project(render, level)).items():
        # YAML 1.1 reads the key `on` as true.
        events = workflow.get("on", workflow.get(True))
        assert "pull_request_target" not in text, name
        assert set(events) <= TRIGGERS, name


@pytest.mark.parametrize("level", PIPELINE)
def test_workflows_grant_nothing_and_each_job_only_what_it_needs(render, level):
    for name, (_, workflow) in workflows(project(render, level)).items():
        assert workflow["permissions"] == {}, name
        for job_id, job in workflow["jobs"].items():
            permissions = job["permissions"]  # every job states its own
            assert isinstance(permissions, dict), (name, job_id, permissions)
            writes = {scope for scope, access in permissions.items() if access == "write"}
            assert set(permissions.values()) <= {"read", "write", "none"}, (name, job_id)
            assert writes <= WRITE_PERMISSIONS.get((name, job_id), set()), (name, job_id)


@pytest.mark.parametrize("level", PIPELINE)
def test_secrets_reach_steps_only_through_env_or_with(render, level):
    for name, (_, workflow) in workflows(project(render, level)).items():
        for path, value in walk(workflow):
            if not isinstance(value, str):
                continue
            if "secrets." in value or "github.token" in value:
                assert path[-2] in {"env", "with"}, (name, path)
            if path[-1] == "run":
                # No expression of any kind is expanded into a shell script.
                assert "${{" not in value, (name, path)
            if path[-2:-1] == ("env",) and is_secret(path[-1]):
                assert re.fullmatch(r"\$\{\{ (secrets\.\w+|github\.token) \}\}", value), (
                    name,
                    path,
                )


@pytest.mark.parametrize("level", PIPELINE)
def test_a_job_that_reads_a_secret_is_bound_to_an_environment(render, level):
    """The secret then belongs to the environment, whose deployment rule says
    which branches may read it; GITHUB_TOKEN is the run's own."""
    for name, (_, workflow) in workflows(project(render, level)).items():
        for job_id, job in workflow["jobs"].items():
            read = {
                secret
                for _, value in walk(job)
                if isinstance(value, str)
                for secret in re.findall(r"secrets\.(\w+)", value)
            } - {"GITHUB_TOKEN"}
            if read:
                environments = {"team-stores", "staging", "production"}
                assert job.get("environment") in environments, (name, job_id)


# --- GitLab CI -----------------------------------------------------------------------


@pytest.mark.parametrize("level", PIPELINE)
def test_gitlab_ci_holds_no_secret_value(render, level):
    root = project(render, level, "gitlab")
    config = yaml.safe_load((root / ".gitlab-ci.yml").read_text())
    names = secret_names(render, level)

    for path, value in walk(config):
        if "variables" in path:
            variable = path[path.index("variables") + 1]
            assert not is_secret(variable) and variable not in names, path
        if isinstance(value, str):
            assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", value), path  # no user:password@
            for line in value.splitlines():
                for secret in names:
                    # Read as $NAME, never set: the value is a CI/CD variable.
                    assert not re.search(rf"\b{secret}\s*=", line), (path, line)
                if "docker login" in line:
                    assert "--password-stdin" in line and "--password " not in line, line


# --- pip-audit in CI -------------------------------------------------------------------------


def audit_commands(root: Path, provider: str) -> tuple[str, list[str]]:
    """The CI job that runs pip-audit, and its commands in order."""
    if provider == "github":
        _, workflow = workflows(root)["ci.yml"]
        for job_id, job in workflow["jobs"].items():
            commands = [step["run"] for step in job["steps"] if "run" in step]
            if any("pip-audit" in command for command in commands):
                return job_id, commands
    else:
        config = yaml.safe_load((root / ".gitlab-ci.yml").read_text())
        for job_id, job in config.items():
            if isinstance(job, dict) and any("pip-audit" in line for line in job.get("script", [])):
                assert job["extends"] == ".uv" and "rules" not in job  # out of MLOPS_TASK pipelines
                return job_id, [*config[".uv"]["before_script"], *job["script"]]
    raise AssertionError("no CI job runs pip-audit")


def audit_version(root: Path, provider: str) -> str:
    _, commands = audit_commands(root, provider)
    return re.search(r"uvx pip-audit@(\d+\.\d+\.\d+) ", "\n".join(commands))[1]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("level", PIPELINE)
def test_ci_audits_the_locked_dependencies_with_a_pinned_pip_audit(render, level, provider):
    root = project(render, level, provider)
    _, commands = audit_commands(root, provider)
    lines = [line.strip() for command in commands for line in command.splitlines()]

    install = lines.index("uv sync --locked")
    [export] = [i for i, line in enumerate(lines) if line.startswith("uv export ")]
    [audit] = [i for i, line in enumerate(lines) if "pip-audit" in line]
    exported = shlex.split(lines[export])
    audited = shlex.split(lines[audit])
    assert install < export < audit
    assert {"--frozen", "--no-emit-project"} <= set(exported)
    assert exported[exported.index("--format") + 1] == "requirements-txt"
    # The file uv writes is the file pip-audit reads, and only its pins count.
    assert exported[-2] == ">" and audited[audited.index("--requirement") + 1] == exported[-1]
    assert {"--strict", "--disable-pip"} <= set(audited)
    assert re.fullmatch(r"pip-audit@\d+\.\d+\.\d+", audited[1])


@pytest.mark.parametrize("level", PIPELINE)
def test_both_providers_audit_with_the_same_pip_audit(render, level):
    versions = {audit_version(project(render, level, provider), provider) for provider in PROVIDERS}

    assert len(versions) == 1
