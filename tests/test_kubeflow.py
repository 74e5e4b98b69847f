"""Tier 2: a Kubeflow project (orchestrator=kubeflow) compiles its pipeline, runs it, and
counts as having a pipeline.

Its own tests run the committed pipeline.yaml with KFP's local runner, to a tracked run
and the registry's champion; this module runs them in an installed level-3 project, and
runs the pipeline once more against the team stack's MLflow server.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.helpers import REPO, run
from tests.test_assess import assess, statuses

pytestmark = pytest.mark.slow

PACKAGE = "churn_model"  # what the project name "Churn Model" yields


def test_a_compiled_kfp_pipeline_counts_as_the_pipeline(render, tmp_path, capsys):
    project = tmp_path / "churn-model"
    shutil.copytree(render(2, orchestrator="kubeflow"), project)
    (project / "dvc.yaml").unlink()

    report = assess(capsys, project)

    assert statuses(report)["L2-pipeline"] == "pass"


def test_the_kubeflow_pipeline_is_current_and_runs_locally(installed):
    project = installed(3, orchestrator="kubeflow")

    checked = run(project, "uv", "run", "python", "-m", f"{PACKAGE}.pipeline.kubeflow", "--check")
    assert "pipeline.yaml is current" in checked.stdout
    tested = run(project, "uv", "run", "pytest", "-q", "tests/pipeline/test_kubeflow.py")
    assert "3 passed" in tested.stdout


@pytest.mark.team_stack
def test_the_kubeflow_pipeline_promotes_a_champion_on_the_team_stack(installed, team_stack):
    """The same pipeline.yaml, its steps tracking to the team's MLflow server (PostgreSQL
    and S3 behind it), under an experiment and a model name of its own."""
    project = installed(3, orchestrator="kubeflow")
    script = REPO / "tests" / "scripts" / "run_kubeflow_pipeline.py"
    uri = team_stack.mlflow_tracking_uri

    result = run(project, "uv", "run", "python", str(script), uri, "kubeflow", "kubeflow-model")

    report = json.loads(result.stdout.splitlines()[-1])
    assert report["runs"] == [report["champion"]["run_id"]]
    assert report["champion"]["version"] == "1"
