"""Tier 2 for level 2 (Automated): the pipeline, the data contract, the generated
tests, the pre-commit hooks and the CI files, for each CI provider where it matters.

One installed project (GitHub Actions, the default) runs the pipeline; the
other providers differ only in their CI file, which is linted from the render.
A second one (GitLab CI) runs the pre-commit hooks as a user does, through
`uv run pre-commit` and through a plain `git commit`, with no network.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.helpers import git, run

pytestmark = pytest.mark.slow

RAW = Path("data/raw/breast_cancer.csv")
READ_RUNS = Path(__file__).parent / "scripts" / "read_mlflow_runs.py"
TOOLS = Path(sys.executable).parent  # actionlint, zizmor, check-jsonschema


@dataclass(frozen=True)
class PipelineRuns:
    """The output of each `dvc repro` in the pipeline's life, and the MLflow runs."""

    first: str
    again: str
    after_param_change: str
    metrics_diff: str
    mlflow_runs: list[dict]


def dvc(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    command = ("uv", "run", "--no-sync", "dvc", *args)
    if check:
        return run(project, *command)
    return subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)


def timed(project: Path, *command: str) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    result = run(project, *command)
    return result, time.monotonic() - start


@pytest.fixture(scope="module")
def project(installed) -> Path:
    """The default level-2 project, installed: GitHub Actions as its CI."""
    return installed(2, ci_provider="github")


@pytest.fixture(scope="module")
def pipeline(project) -> PipelineRuns:
    """Run the pipeline as a user would: build, rebuild, commit, change a setting, rebuild."""
    first, first_time = timed(project, "uv", "run", "--no-sync", "dvc", "repro")
    again, again_time = timed(project, "uv", "run", "--no-sync", "dvc", "repro")
    print(f"\ndvc repro: first run {first_time:.1f} s, no-op run {again_time:.1f} s")
    git(project, "add", "--all")
    git(project, "-c", "user.name=Test", "-c", "user.email=t@example.org", "commit", "-qm", "Run")
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("  C: 1.0\n", "  C: 0.5\n"))
    changed = dvc(project, "repro")
    metrics_diff = dvc(project, "metrics", "diff")
    result = run(project, "uv", "run", "--no-sync", "python", str(READ_RUNS), "sqlite:///mlflow.db")
    return PipelineRuns(
        first=first.stdout,
        again=again.stdout,
        after_param_change=changed.stdout,
        metrics_diff=metrics_diff.stdout,
        mlflow_runs=json.loads(result.stdout.splitlines()[-1]),
    )


# --- The pipeline --------------------------------------------------------------


def test_first_repro_runs_every_stage_and_writes_every_output(pipeline, project):
    for stage in ("prepare", "train", "evaluate"):
        assert f"Running stage '{stage}'" in pipeline.first
    for output in (
        "data/processed/train.csv",
        "data/processed/test.csv",
        "models/model.skops",
        "reports/metrics.json",
        "reports/plots/roc.csv",
        "reports/plots/precision_recall.csv",
        "reports/plots/predictions.csv",
        "dvc.lock",
    ):
        assert (project / output).is_file(), output
    metrics = json.loads((project / "reports/metrics.json").read_text())
    assert metrics["roc_auc"] > 0.9


def test_second_repro_does_nothing(pipeline):
    assert "Running stage" not in pipeline.again
    assert "Data and pipelines are up to date." in pipeline.again


def test_git_keeps_the_lock_metrics_and_plots_and_ignores_data_and_models(pipeline, project):
    tracked = set(git(project, "ls-files").split())

    assert {"dvc.lock", "reports/metrics.json", "reports/plots/roc.csv"} <= tracked
    assert not {"data/processed/train.csv", "models/model.skops", "mlflow.db"} & tracked
    assert "data/processed/.gitignore" not in tracked  # the root .gitignore covers it


def test_a_model_setting_reruns_only_train_and_evaluate(pipeline):
    output = pipeline.after_param_change

    assert "Stage 'prepare' didn't change, skipping" in output
    assert "Running stage 'train'" in output
    assert "Running stage 'evaluate'" in output


def test_metrics_diff_compares_with_the_last_commit(pipeline):
    assert "reports/metrics.json" in pipeline.metrics_diff
    assert "HEAD" in pipeline.metrics_diff
    assert "roc_auc" in pipeline.metrics_diff


def test_plots_show_draws_each_plot_from_the_data_evaluate_writes(pipeline, project):
    shown = json.loads(dvc(project, "plots", "show", "--json").stdout)["data"]

    assert set(shown) == {"ROC curve", "Precision-recall curve", "Confusion matrix"}
    for name, [plot] in shown.items():
        assert plot["content"]["data"]["values"], f"{name} has no data"


def test_params_diff_and_plots_work_against_the_last_commit(pipeline, project):
    params = dvc(project, "params", "diff")
    plots = dvc(project, "plots", "diff", "HEAD")

    assert "model.C" in params.stdout
    assert "1.0" in params.stdout
    assert "0.5" in params.stdout
    assert (project / "dvc_plots" / "index.html").is_file()
    assert "dvc_plots/index.html" in plots.stdout
    assert "dvc_plots" not in git(project, "status", "--porcelain")  # gitignored


def test_each_pipeline_run_is_one_mlflow_run(pipeline, project):
    runs = pipeline.mlflow_runs
    data_md5 = yaml.safe_load((project / f"{RAW}.dvc").read_text())["outs"][0]["md5"]

    assert sorted(run["params"]["model.C"] for run in runs) == ["0.5", "1.0"]
    for logged in runs:
        assert logged["tags"]["data.md5"] == data_md5
        assert logged["tags"]["data.path"] == str(RAW)
        assert len(logged["tags"]["git.commit"]) == 40
        assert logged["models"] == 1
        assert len(logged["predictions"]) == 5
        assert set(logged["metrics"]) == {"accuracy", "precision", "recall", "f1", "roc_auc"}


# --- The data contract -----------------------------------------------------------


def drop_column(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="mean radius")


def text_in_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    frame["mean texture"] = frame["mean texture"].astype(object)
    frame.loc[3, "mean texture"] = "abc"
    return frame


def out_of_range(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[[2, 7], "worst area"] = -5.0
    return frame


def empty_values(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[4, "mean area"] = None
    return frame


@pytest.mark.parametrize(
    ("corrupt", "column", "rule"),
    [
        (drop_column, "mean radius", "column_in_dataframe"),
        (text_in_numbers, "mean texture", "coerce_dtype('float64')"),
        (out_of_range, "worst area", "in_range(180.0, 4300.0)"),
        (empty_values, "mean area", "not_nullable"),
    ],
    ids=["missing-column", "wrong-dtype", "out-of-range", "nulls"],
)
def test_corrupt_data_stops_the_pipeline_naming_column_and_rule(
    pipeline, project, corrupt, column, rule
):
    raw = project / RAW
    corrupt(pd.read_csv(raw)).to_csv(raw, index=False)
    try:
        result = dvc(project, "repro", check=False)
    finally:
        # repro records a changed data source in its .dvc file, and removes the
        # outputs of the stage it runs: take back both, from git and DVC's cache.
        git(project, "checkout", "--", f"{RAW}.dvc")
        dvc(project, "checkout", "--force")

    assert result.returncode != 0
    assert "failed to reproduce 'prepare'" in result.stderr
    [problem] = [line for line in result.stderr.splitlines() if f"column {column!r}" in line]
    assert rule in problem
    assert "Traceback" not in result.stderr
    assert "Data and pipelines are up to date." in dvc(project, "repro").stdout


# --- The generated tests and CI's own commands ------------------------------------------


def ci_commands(path: Path) -> dict[str, list[str]]:
    """The shell commands of each CI job, GitHub Actions or GitLab CI, in order."""
    config = yaml.safe_load(path.read_text())
    if path.name == "ci.yml":
        return {
            name: [step["run"] for step in job["steps"] if "run" in step]
            for name, job in config["jobs"].items()
        }
    template = config[".uv"]
    return {
        name: [*template["before_script"], *job["script"]]
        for name, job in config.items()
        if isinstance(job, dict) and job.get("extends") == ".uv"
    }


def test_generated_test_suite_passes(pipeline, project):
    result, seconds = timed(project, "uv", "run", "--no-sync", "pytest", "-q")

    print(f"\ngenerated test suite: {seconds:.1f} s\n{result.stdout.splitlines()[-1]}")
    assert " passed" in result.stdout
    assert "skipped" not in result.stdout


@pytest.mark.parametrize("ci_provider", ["github", "gitlab"])
def test_ci_jobs_commands_pass_in_the_project(pipeline, project, render, ci_provider):
    ci_file = {"github": ".github/workflows/ci.yml", "gitlab": ".gitlab-ci.yml"}[ci_provider]
    jobs = ci_commands(render(2, ci_provider=ci_provider) / ci_file)

    assert set(jobs) == {"lint", "test", "pipeline"}
    assert any("uv run pytest" in command for command in jobs["test"])
    for name, commands in jobs.items():
        if name == "test":
            continue  # the generated suite has its own test above
        for command in commands:
            run(project, "bash", "-c", command)
    # The rebuilt sample is byte for byte the versioned one: nothing to rerun.
    assert "Data and pipelines are up to date." in dvc(project, "repro").stdout


# --- CI files ------------------------------------------------------------------


def test_github_workflow_passes_actionlint_and_zizmor(render):
    workflow = render(2, ci_provider="github") / ".github" / "workflows" / "ci.yml"

    run(workflow.parent, str(TOOLS / "actionlint"), workflow.name)
    audit = run(
        workflow.parent, str(TOOLS / "zizmor"), "--offline", "--min-severity=medium", workflow.name
    )
    assert "No findings" in audit.stdout + audit.stderr


def test_github_workflow_pins_actions_to_commit_shas_with_least_privilege(render):
    workflow = yaml.safe_load((render(2) / ".github" / "workflows" / "ci.yml").read_text())

    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        assert job["permissions"] == {"contents": "read"}
        for step in job["steps"]:
            if "uses" in step:
                ref = step["uses"].partition("@")[2]
                assert re.fullmatch("[0-9a-f]{40}", ref), step["uses"]
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
            if step.get("uses", "").startswith("astral-sh/setup-uv@"):
                assert step["with"]["enable-cache"] is True


def test_gitlab_ci_file_validates_against_the_gitlab_ci_schema(render):
    project = render(2, ci_provider="gitlab")

    run(
        project,
        str(TOOLS / "check-jsonschema"),
        "--builtin-schema",
        "vendor.gitlab-ci",
        ".gitlab-ci.yml",
    )


# --- pre-commit ------------------------------------------------------------------

CONFLICT = "<<<<<<< before updating\nyours\n=======\nthe template's\n>>>>>>> after updating\n"


@pytest.fixture(scope="module")
def hooked(installed) -> Path:
    """A fresh installed project of this module's own (GitLab CI, so that both CI files
    meet the hooks): the tests below install the git hook in it and commit."""
    return installed(2, ci_provider="gitlab")


@pytest.fixture(scope="module")
def offline(tmp_path_factory) -> dict[str, str]:
    """The environment of a machine where only the project's .venv can help: no hook
    repository can be cloned (every https URL is rewritten to a missing path), uv cannot
    reach the index, pre-commit starts from an empty store, and no virtual environment's
    bin is on PATH, as for a git hook run by a plain `git commit`."""
    path = os.environ["PATH"].split(os.pathsep)
    return os.environ | {
        "PATH": os.pathsep.join(
            entry for entry in path if not Path(entry, "..", "pyvenv.cfg").exists()
        ),
        "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre-commit-home")),
        "UV_OFFLINE": "1",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "url.file:///nowhere/.insteadOf",
        "GIT_CONFIG_VALUE_0": "https://",
    }


def attempt(project: Path, env: dict[str, str], *command: str) -> subprocess.CompletedProcess:
    """Run a command that may fail, its output (stderr after stdout) in `stdout`."""
    return subprocess.run(
        command,
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
    )


def test_every_hook_runs_a_tool_from_the_project_environment(render):
    """A hook from a remote repository would need github.com, and its own copy of a tool
    could disagree with the version uv.lock pins."""
    config = yaml.safe_load((render(2) / ".pre-commit-config.yaml").read_text())

    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    for hook in config["repos"][0]["hooks"]:
        assert hook["language"] == "unsupported", hook["id"]
        assert hook["entry"].startswith(("uv run --no-sync ", "uv run --no-project ")), hook["id"]


def test_pre_commit_passes_on_a_fresh_project_offline(hooked, offline):
    """The README's `uv run pre-commit run --all-files`, right after the first commit,
    with nothing to download: every hook passes and none changes a file."""
    result = attempt(hooked, offline, "uv", "run", "pre-commit", "run", "--all-files")

    assert result.returncode == 0, result.stdout
    for hook in ("ruff check", "ruff format", "nbstripout", "check yaml", "check toml"):
        assert re.search(rf"^{hook}\.+Passed$", result.stdout, re.MULTILINE), result.stdout
    assert git(hooked, "status", "--porcelain", "--untracked-files=no") == ""


def test_conflict_markers_fail_pre_commit_naming_check_merge_conflict(hooked, offline):
    """Plain `copier update` leaves markers and exits 0, without a git merge under way:
    the hook must look for them all the same."""
    readme = hooked / "README.md"
    readme.write_text(readme.read_text() + CONFLICT)
    try:
        result = attempt(hooked, offline, "uv", "run", "pre-commit", "run", "--all-files")
    finally:
        git(hooked, "checkout", "--", "README.md")

    assert result.returncode == 1
    assert re.search(r"^check for merge conflicts\.+Failed$", result.stdout, re.MULTILINE)
    assert "- hook id: check-merge-conflict" in result.stdout
    assert (
        "README.md:" in result.stdout and "Merge conflict string '<<<<<<<' found" in result.stdout
    )


def test_plain_git_commit_runs_the_hooks_and_refuses_a_conflicted_file(hooked, offline):
    """The hook that `pre-commit install` writes runs from `git commit`, where .venv/bin
    is not on PATH: it commits a clean change (the 1 MB uv.lock included, which the
    large-file guard lets through), then refuses conflict markers."""
    run(hooked, "uv", "run", "pre-commit", "install")
    commit = ("git", "-c", "user.name=Test", "-c", "user.email=t@example.org", "commit", "-m")
    (hooked / "notes.md").write_text("# Notes\n")
    git(hooked, "add", "--all")

    clean = attempt(hooked, offline, *commit, "Notes, and the lock")
    assert clean.returncode == 0, clean.stdout
    assert re.search(r"^check for added large files\.+Passed$", clean.stdout, re.MULTILINE)
    assert "uv.lock" in git(hooked, "show", "--name-only", "--format=", "HEAD").split()
    assert git(hooked, "status", "--porcelain") == ""

    head = git(hooked, "rev-parse", "HEAD")
    (hooked / "notes.md").write_text("# Notes\n" + CONFLICT)
    git(hooked, "add", "notes.md")
    refused = attempt(hooked, offline, *commit, "Conflicted notes")

    assert refused.returncode == 1
    assert "- hook id: check-merge-conflict" in refused.stdout
    assert "notes.md:2: Merge conflict string '<<<<<<<' found" in refused.stdout
    assert git(hooked, "rev-parse", "HEAD") == head
