"""Tier 2 for level 2 (Automated): the pipeline, the data contract, the generated
tests, the pre-commit hooks and the CI files, for each CI provider where it matters.

One installed project (GitHub Actions, the default) runs the pipeline; the
other providers differ only in their CI file, which is linted from the render.
Hook repositories cannot be fetched here, so each hook's tool runs directly, at
the version that .pre-commit-config.yaml pins, on the files pre-commit would give it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from identify.identify import tags_from_path

from tests.helpers import commit_all, git, run

pytestmark = pytest.mark.slow

RAW = Path("data/raw/breast_cancer.csv")
READ_RUNS = Path(__file__).parent / "scripts" / "read_mlflow_runs.py"
TOOLS = Path(sys.executable).parent  # actionlint, zizmor, check-jsonschema, pre-commit

# The tools of the pinned pre-commit-hooks release, by hook id, and the files
# each takes (identify's tags, as pre-commit selects them).
PRE_COMMIT_HOOKS = {
    "check-yaml": ("check-yaml", "yaml"),
    "check-toml": ("check-toml", "toml"),
    "end-of-file-fixer": ("end-of-file-fixer", "text"),
    "trailing-whitespace": ("trailing-whitespace-fixer", "text"),
    "check-added-large-files": ("check-added-large-files --enforce-all", "file"),
}


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


@pytest.fixture(scope="module", params=["github", "gitlab"])
def fresh(request, render, tmp_path_factory) -> Path:
    """A fresh project as git holds it: the render, committed."""
    project = tmp_path_factory.mktemp(f"fresh-{request.param}") / "churn-model"
    shutil.copytree(render(2, ci_provider=request.param), project)
    commit_all(project)
    return project


def hook_commands(project: Path) -> list[tuple[list[str], list[str]]]:
    """Each hook of .pre-commit-config.yaml as the command of its tool at the pinned rev,
    with the tracked files it would check."""
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    files = git(project, "ls-files").split()
    tagged = {path: tags_from_path(str(project / path)) for path in files}

    def having(tag: str) -> list[str]:
        return [path for path in files if tag in tagged[path]]

    commands = []
    for repo in config["repos"]:
        rev = repo["rev"].removeprefix("v")
        for hook in repo["hooks"]:
            args = hook.get("args", [])
            if hook["id"] == "ruff-check":
                code = having("python") + having("jupyter")
                commands.append((["uvx", f"ruff@{rev}", "check", "--no-cache"], code))
            elif hook["id"] == "ruff-format":
                code = having("python") + having("jupyter")
                commands.append((["uvx", f"ruff@{rev}", "format", "--check", "--no-cache"], code))
            elif hook["id"] == "nbstripout":
                command = ["uvx", f"nbstripout=={rev}", *args, "--verify"]
                commands.append((command, having("jupyter")))
            else:
                tool, tag = PRE_COMMIT_HOOKS[hook["id"]]
                command = ["uvx", "--from", f"pre-commit-hooks=={rev}", *tool.split(), *args]
                commands.append((command, having(tag)))
    return commands


def test_pre_commit_config_is_valid(fresh):
    run(fresh, str(TOOLS / "pre-commit"), "validate-config", ".pre-commit-config.yaml")


def test_every_pre_commit_hook_passes_on_a_fresh_project(fresh):
    commands = hook_commands(fresh)

    assert len(commands) == 8
    for command, files in commands:
        assert files, f"{command} would check no file"
        run(fresh, *command, *files)
    assert git(fresh, "status", "--porcelain") == ""  # no hook changed a file
