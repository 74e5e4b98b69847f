"""Every detection rule of levels/, each on a tiny tree of its own: the ways real teams meet a
criterion pass it, and names without substance (a declared but unused dependency, an empty
test file, a loose script, binary junk under a known name) do not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_levels.checks import build_checks, run_check
from mlops_levels.detect import Project
from mlops_levels.imports import import_names
from mlops_levels.ladder import gates
from mlops_levels.tree import MAX_BYTES
from tests.helpers import LADDER

CRITERIA = {criterion["id"]: criterion for level in LADDER for criterion in level["criteria"]}


def notebook(*cells: str) -> str:
    return json.dumps(
        {"cells": [{"cell_type": "code", "source": cell} for cell in cells], "nbformat": 4}
    )


def judge(root: Path, criterion_id: str, files: dict[str, str | bytes]) -> tuple[str, str]:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    finding = run_check(Project(root, ask=lambda _criterion: None), CRITERIA[criterion_id])
    return finding.status, finding.evidence


def workflow(command: str) -> dict[str, str]:
    return {
        ".github/workflows/ci.yml": "on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
        f"    steps:\n      - run: {command}\n"
    }


SCHEDULED = {
    ".github/workflows/drift.yml": "name: drift\non:\n  schedule:\n    - cron: '0 6 * * *'\n"
}

PASSES = {
    # Level 0: ML code, and dependencies declared anywhere.
    "notebook": ("L0-ml-code", {"analysis/eda.ipynb": notebook("%matplotlib inline\n1")}),
    "ml import": ("L0-ml-code", {"src/train.py": "from sklearn.linear_model import Ridge\n"}),
    "notebook import": ("L0-ml-code", {"nb.ipynb": notebook("!pip install x\nimport torch")}),
    "src requirements": ("L0-dependencies", {"src/requirements.txt": "pandas\n"}),
    "sub-project": ("L0-dependencies", {"service/pyproject.toml": "[project]\nname = 'x'\n"}),
    "conda.yaml": ("L0-dependencies", {"model/conda.yaml": "dependencies: [python]\n"}),
    # Level 1.
    "scripts": (
        "L1-package",
        {
            "pyproject.toml": "[project.scripts]\ntrain = 'fraud.cli:main'\n",
            "fraud/__init__.py": "",
            "fraud/train.py": "",
        },
    ),
    "__main__": (
        "L1-package",
        {"src/fraud/__init__.py": "", "src/fraud/__main__.py": "model.fit(x, y)\n"},
    ),
    "command module": (
        "L1-package",
        {"pkg/__init__.py": "", "pkg/train.py": "if __name__ == '__main__':\n    pass\n"},
    ),
    "used modules": (
        "L1-package",
        {
            "pkg/__init__.py": "",
            "pkg/training.py": "",
            "run.ipynb": notebook("from pkg import training"),
        },
    ),
    "params.yaml": ("L1-config", {"project/params.yaml": "lr: 0.1\n"}),
    "confs": ("L1-config", {"confs/training.yaml": "lr: 0.1\n"}),
    "recipe.yaml": ("L1-config", {"recipe.yaml": "recipe: regression/v1\n"}),
    "hydra": ("L1-config", {"train.py": "import hydra\n"}),
    "dvclive": (
        "L1-tracking",
        {"train.py": "from dvclive import Live\n\nwith Live() as live:\n    pass\n"},
    ),
    "wandb": ("L1-tracking", {"nb.ipynb": notebook("import wandb", "wandb.log({'loss': 1})")}),
    "mlflow": ("L1-tracking", {"train.py": "import mlflow\n\nmlflow.log_metric('auc', 0.9)\n"}),
    "zenml metadata": (
        "L1-tracking",
        {"steps/t.py": "from zenml import log_metadata\n\nlog_metadata({'auc': 1})\n"},
    ),
    "kedro tracking": (
        "L1-tracking",
        {"conf/base/catalog.yml": "metrics:\n  type: tracking.MetricsDataset\n"},
    ),
    "sagemaker experiments": (
        "L1-tracking",
        {
            "train.py": "from sagemaker.experiments.run import Run\n\n"
            "with Run('e') as run:\n    pass\n"
        },
    ),
    "mlflow run": ("L1-tracking", workflow("mlflow run . -e train")),
    "dvc file": ("L1-data-versioning", {"data/raw/x.csv.dvc": "outs: []\n"}),
    # Level 2.
    "dvc.yaml": ("L2-pipeline", {"ml/dvc.yaml": "stages: {}\n"}),
    "zenml": ("L2-pipeline", {"pipelines/training.py": "from zenml import pipeline, step\n"}),
    "kfp": ("L2-pipeline", {"pipeline.py": "from kfp import dsl\n"}),
    "sagemaker pipeline": (
        "L2-pipeline",
        {"pipelines/build.py": "from sagemaker.workflow.pipeline import Pipeline\n"},
    ),
    "airflow": ("L2-pipeline", {"dags/train.py": "from airflow import DAG\n"}),
    "mlproject": ("L2-pipeline", {"MLproject": "name: x\nentry_points: {}\n"}),
    "make chain": (
        "L2-pipeline",
        {"Makefile": "data:\n\tpython src/make_dataset.py\n\ntrain: data\n\tpython src/train.py\n"},
    ),
    "shell job": (
        "L2-pipeline",
        {"jobs/run.sh": "set -e\npython prepare.py\npython train.py --epochs 3\n"},
    ),
    "pipeline task": ("L2-pipeline", {"Makefile": "pipeline:\n\tpython -m x.prepare\n"}),
    "pandera": ("L2-data-validation", {"schema.py": "import pandera.pandas as pa\n"}),
    "pydantic rows": (
        "L2-data-validation",
        {
            "load.py": "import pandas as pd\nfrom pydantic import BaseModel\n\n"
            "rows = [Row.model_validate(r) for r in pd.read_csv('x').to_dict('records')]\n"
        },
    ),
    "vertex pipeline": (
        "L2-pipeline",
        {
            "run.py": "from google.cloud import aiplatform\n\n"
            "aiplatform.PipelineJob(display_name='t')\n"
        },
    ),
    "argo workflow": (
        "L2-pipeline",
        {"argo/train.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\n"},
    ),
    "great expectations": ("L2-data-validation", {"v.py": "import great_expectations as gx\n"}),
    "deepchecks": ("L2-data-validation", {"v.py": "from deepchecks.tabular import Dataset\n"}),
    "assert": ("L2-tests", {"tests/test_x.py": "def test_one():\n    assert 1 + 1 == 2\n"}),
    "raises": (
        "L2-tests",
        {
            "x_test.py": "import pytest\n\ndef test_bad():\n    with pytest.raises(ValueError):\n"
            "        int('x')\n"
        },
    ),
    "unittest": (
        "L2-tests",
        {"test/test_x.py": "class T:\n    def test_a(self):\n        self.assertEqual(1, 1)\n"},
    ),
    "pre-commit": ("L2-pre-commit", {".pre-commit-config.yaml": "repos: []\n"}),
    "lefthook": ("L2-pre-commit", {"lefthook.yml": "pre-commit: {}\n"}),
    "husky": ("L2-pre-commit", {".husky/pre-commit": "npx lint-staged\n"}),
    "ci pytest": ("L2-ci", workflow("uv run pytest")),
    "make": ("L2-ci", {**workflow("make test"), "Makefile": "test:\n\tpytest\n"}),
    "just": ("L2-ci", {**workflow("just test"), "justfile": "test:\n    uv run pytest\n"}),
    "mise": (
        "L2-ci",
        {**workflow("mise run test"), "mise.toml": "[tasks.test]\nrun = 'uv run pytest'\n"},
    ),
    "poe": (
        "L2-ci",
        {**workflow("uv run poe test"), "pyproject.toml": "[tool.poe.tasks]\ntest = 'pytest'\n"},
    ),
    "hatch": (
        "L2-ci",
        {
            **workflow("hatch run test"),
            "pyproject.toml": "[tool.hatch.envs.default.scripts]\ntest = 'pytest {args}'\n",
        },
    ),
    "pdm": (
        "L2-ci",
        {
            **workflow("pdm run test"),
            "pyproject.toml": "[tool.pdm.scripts]\ntest = {cmd = 'pytest'}\n",
        },
    ),
    "npm": (
        "L2-ci",
        {**workflow("npm test"), "package.json": '{"scripts": {"test": "pytest -q"}}'},
    ),
    "taskipy": (
        "L2-ci",
        {
            **workflow("poetry run task test"),
            "pyproject.toml": "[tool.taskipy.tasks]\ntest = 'pytest -q'\n",
        },
    ),
    "go-task": (
        "L2-ci",
        {**workflow("task test"), "Taskfile.yml": "tasks:\n  test:\n    cmds:\n      - pytest\n"},
    ),
    "tox through make": (
        "L2-ci",
        {
            **workflow("make check"),
            "Makefile": "check:\n\ttox -e py\n",
            "tox.ini": "[testenv]\ncommands =\n    pytest\n",
        },
    ),
    "nox": (
        "L2-ci",
        {
            **workflow("nox -s tests"),
            "noxfile.py": "def tests(session):\n    session.run('pytest')\n",
        },
    ),
    "invoke": (
        "L2-ci",
        {**workflow("invoke test"), "tasks.py": "@task\ndef test(c):\n    c.run('pytest')\n"},
    ),
    "gitlab": ("L2-ci", {".gitlab-ci.yml": "test:\n  script:\n    - python -m unittest\n"}),
    # Level 3.
    "promote stage": ("L3-registry", {"dvc.yaml": "stages:\n  promote:\n    cmd: python p.py\n"}),
    "mlflow alias gate": (
        "L3-registry",
        {
            "promote.py": "import mlflow\n\ndef promote(client, new, old):\n    if new > old:\n"
            "        client.set_registered_model_alias('m', 'champion', 2)\n"
        },
    ),
    "sagemaker condition": (
        "L3-registry",
        {
            "pipeline.py": "from sagemaker.workflow.step_collections import RegisterModel\n"
            "from sagemaker.workflow.condition_step import ConditionStep\n\ndef build():\n"
            "    register = RegisterModel(name='r')\n"
            "    return ConditionStep(name='c', conditions=[], if_steps=[register])\n"
        },
    ),
    "zenml promotion": (
        "L3-registry",
        {
            "steps/promote.py": "from zenml import get_step_context\n\ndef promote(new, old):\n"
            "    if new >= old:\n        get_step_context().model.set_stage('production')\n"
        },
    ),
    "fastapi": (
        "L3-serving",
        {
            "app.py": "from fastapi import FastAPI\n\napp = FastAPI()\n\n"
            "@app.get('/health')\ndef ok(): ...\n"
        },
    ),
    "bentoml": ("L3-serving", {"service.py": "import bentoml\n"}),
    "ray serve": ("L3-serving", {"serve.py": "from ray import serve\n"}),
    "kserve": (
        "L3-serving",
        {"k8s/isvc.yaml": "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\n"},
    ),
    "mlflow serving": ("L3-serving", {"Dockerfile": "FROM python\nCMD mlflow models serve -m m\n"}),
    "sagemaker endpoint": (
        "L3-serving",
        {"deploy.py": "import sagemaker\n\nmodel = sagemaker.Model()\nmodel.deploy(1)\n"},
    ),
    "nested dockerfile": ("L3-container", {"service/Dockerfile": "FROM python:3.12\n"}),
    # Level 4.
    "sqlalchemy": (
        "L4-prediction-logging",
        {"log.py": "from sqlalchemy import insert\n\ninsert(log).values(model_version=v)\n"},
    ),
    "service's log": (
        "L4-prediction-logging",
        {"app.py": "from fastapi import FastAPI\n\ndef predict(x):\n    log_prediction(x)\n"},
    ),
    "data capture": (
        "L4-prediction-logging",
        {"endpoint.py": "from sagemaker.model_monitor import DataCaptureConfig\n"},
    ),
    "evidently on a schedule": (
        "L4-monitoring",
        {"drift.py": "from evidently import Report\n", **SCHEDULED},
    ),
    "nannyml on a schedule": ("L4-monitoring", {"drift.py": "import nannyml\n", **SCHEDULED}),
    "alibi-detect in a cron job": (
        "L4-monitoring",
        {
            "drift.py": "from alibi_detect.cd import KSDrift\n",
            "k8s/drift.yaml": "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: drift}\n",
        },
    ),
    "gitlab scheduled job": (
        "L4-monitoring",
        {
            "drift.py": "from evidently import Report\n",
            ".gitlab-ci.yml": "monitor:\n  rules:\n    - if: $CI_PIPELINE_SOURCE == 'schedule'\n",
        },
    ),
    "model monitor schedule": (
        "L4-monitoring",
        {
            "m.py": "from sagemaker.model_monitor import DefaultModelMonitor\n\n"
            "DefaultModelMonitor().create_monitoring_schedule()\n"
        },
    ),
    "retrain": ("L4-retraining", workflow("python -m pkg retrain")),
    "runbook": ("L4-runbook", {"docs/runbook.md": "# On drift\n"}),
}

FAILS = {
    "no ml library": ("L0-ml-code", {"app.py": "import requests\n"}),
    "binary notebook": ("L0-ml-code", {"x.ipynb": b"\x00\x01\x02junk"}),
    "installed copy": (
        "L0-dependencies",
        {"vendor/lib/setup.py": "", "build/x/pyproject.toml": ""},
    ),
    "loose script": ("L1-package", {"train.py": "if __name__ == '__main__':\n    pass\n"}),
    "package nobody runs": ("L1-package", {"pkg/__init__.py": "", "pkg/util.py": ""}),
    "tracker declared only": ("L1-tracking", {"requirements.txt": "mlflow==2.0\nwandb\n"}),
    "validator declared only": (
        "L2-data-validation",
        {"pyproject.toml": "[project]\ndependencies = ['pandera']\n"},
    ),
    "empty test file": ("L2-tests", {"tests/test_x.py": ""}),
    "assert false only": ("L2-tests", {"tests/test_x.py": "def test_todo():\n    assert False\n"}),
    "install before test": (
        "L2-pipeline",
        {
            "Makefile": "install:\n\tpython -m pip install -e .\n\n"
            "test: install\n\tpython -m pytest\n"
        },
    ),
    "ci installs only": ("L2-ci", workflow("pip install pytest")),
    "tox deps only": (
        "L2-ci",
        {
            **workflow("make check"),
            "Makefile": "check:\n\ttox\n",
            "tox.ini": "[testenv]\ndeps =\n    pytest\ncommands = ruff check\n",
        },
    ),
    "alias without gate": (
        "L3-registry",
        {
            "promote.py": "import mlflow\n\n"
            "mlflow.MlflowClient().set_registered_model_alias('m', 'c', 1)\n"
        },
    ),
    "binary dockerfile": ("L3-container", {"Dockerfile": b"\x7fELF\x00\x00"}),
    "sqlalchemy without the model version": (
        "L4-prediction-logging",
        {"log.py": "from sqlalchemy import insert\n\ninsert(log).values(x=x)\n"},
    ),
    "drift checked by hand only": ("L4-monitoring", {"drift.py": "from evidently import Report\n"}),
    "drift and an unrelated schedule": (
        "L4-monitoring",
        {
            "drift.py": "from evidently import Report\n",
            ".github/workflows/nightly.yml": "name: build\non:\n  schedule:\n"
            "    - cron: '0 6 * * *'\n",
        },
    ),
    "pydantic settings only": (
        "L2-data-validation",
        {
            "settings.py": "from pydantic import BaseModel\n\n"
            "class Settings(BaseModel):\n    lr: float\n"
        },
    ),
    "fastapi without health": ("L3-serving", {"app.py": "from fastapi import FastAPI\n"}),
    "package without training": (
        "L1-package",
        {"lib/__init__.py": "", "lib/__main__.py": "print('hello')\n"},
    ),
    "package used only by its tests": (
        "L1-package",
        {"pkg/__init__.py": "", "pkg/train.py": "", "tests/test_p.py": "import pkg\n"},
    ),
    "dev container": ("L3-container", {".devcontainer/Dockerfile": "FROM python\n"}),
    "sqlalchemy pinned only": (
        "L4-prediction-logging",
        {"requirements.txt": "SQLAlchemy==2.0.1\n"},
    ),
}


@pytest.mark.parametrize(("criterion_id", "files"), PASSES.values(), ids=PASSES.keys())
def test_a_practice_that_meets_the_criterion_passes_with_its_evidence(
    tmp_path, criterion_id, files
):
    status, evidence = judge(tmp_path, criterion_id, files)

    assert status == "pass", evidence
    assert any(name.split("/")[0] in evidence for name in files), evidence


@pytest.mark.parametrize(("criterion_id", "files"), FAILS.values(), ids=FAILS.keys())
def test_a_name_without_the_practice_fails(tmp_path, criterion_id, files):
    status, evidence = judge(tmp_path, criterion_id, files)

    assert status == "fail", evidence


def test_ci_through_a_task_runner_shows_the_task_line_and_how_ci_calls_it(tmp_path):
    files = {**workflow("mise run test"), "mise.toml": "[tasks.test]\nrun = 'uv run pytest'\n"}

    _, evidence = judge(tmp_path, "L2-ci", files)

    assert (
        evidence
        == "mise.toml:2: run = 'uv run pytest' (run by `mise test` in .github/workflows/ci.yml)"
    )


def test_notebook_evidence_names_the_cell(tmp_path):
    files = {"nb.ipynb": notebook("x = 1", "import pandera.pandas as pa")}

    _, evidence = judge(tmp_path, "L2-data-validation", files)

    assert evidence == "nb.ipynb:cell 2, line 1: import pandera.pandas as pa"


def test_code_that_does_not_parse_is_a_warning(tmp_path):
    (tmp_path / "test_old.py").write_text("print 'python 2'\n")
    project = Project(tmp_path, ask=lambda _criterion: None)

    run_check(project, CRITERIA["L2-tests"])

    assert project.warnings["test_old.py"].startswith("does not parse as Python")


def test_the_layout_criterion_is_advisory_and_every_other_one_gates():
    assert [c["id"] for c in CRITERIA.values() if not gates(c)] == ["L0-layout"]


def test_a_code_rule_whose_call_is_not_a_list_of_names_is_refused():
    ladder = [
        {"level": 0, "criteria": [{"id": "X", "hint": "h", "detect": {"code": [{"call": "a.*"}]}}]}
    ]

    with pytest.raises(ValueError, match="a call is names separated by"):
        build_checks(ladder)


def test_a_notebook_cut_at_the_size_limit_still_shows_its_imports(tmp_path):
    cells = [
        {"cell_type": "code", "source": ["import pandera.pandas as pa\n", "x = 1"], "outputs": []},
        {"cell_type": "code", "source": ["plot()"], "outputs": [{"data": "A" * MAX_BYTES}]},
    ]
    files = {"big.ipynb": json.dumps({"cells": cells, "nbformat": 4}, indent=1)}

    status, evidence = judge(tmp_path, "L2-data-validation", files)

    assert (status, evidence) == ("pass", "big.ipynb:6: import pandera.pandas as pa")


@pytest.mark.parametrize(
    ("distribution", "module"),
    [
        ("scikit-learn", "sklearn"),
        ("PyYAML", "yaml"),
        ("Great_Expectations", "great_expectations"),
        ("alibi-detect", "alibi_detect"),
    ],
)
def test_a_distribution_is_found_by_the_module_it_is_imported_as(distribution, module):
    assert module in import_names(distribution)
