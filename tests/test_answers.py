"""Tier 1: the questions' validators, the level guard, and plain Copier without --trust."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlops_levels.cli import main
from tests.helpers import LEVELS, copier_update, git, template_snapshot

COPIER = [sys.executable, "-m", "copier"]


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"project_name": " "}, "The project name must not be empty."),
        ({"project_name": "x" * 65}, "keep it to 64 or fewer"),
        ({"project_name": "2024 !!!"}, "needs at least one ASCII letter"),
        ({"project_name": "two\nlines"}, "The project name must be one line of text"),
        ({"package_name": "Churn-Model"}, "is not a valid package name"),
        ({"package_name": "lambda"}, '"lambda" is a Python keyword'),
        ({"package_name": "json"}, "would shadow the standard-library module"),
        ({"package_name": "mlflow"}, "would shadow the mlflow module"),
        ({"author_email": "ml-team"}, '"ml-team" is not an email address'),
        ({"author_email": "a@b"}, '"a@b" is not an email address'),
        ({"author_name": ""}, "The author name must not be empty."),
        ({"description": "one\ntwo"}, "The description must be one line of text"),
        (
            {"level": 2, "orchestrator": "airflow"},
            "'airflow' is not in ['dvc', 'kubeflow']",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else next(iter(value)),
)
def test_bad_answer_is_refused_with_what_is_wrong(copie, answers, message):
    result = copie.copy(extra_answers={"project_name": "Churn Model", **answers})

    assert result.exit_code != 0
    assert message in str(result.exception)


def test_package_name_is_derived_from_the_project_name(copie):
    result = copie.copy(extra_answers={"project_name": "Credit Risk (v2)"})

    assert result.exception is None
    assert result.answers["package_name"] == "credit_risk_v2"


@pytest.mark.parametrize("level", LEVELS)
def test_plain_copier_copy_works_without_trust(tmp_path, level):
    dest = tmp_path / "churn"
    result = subprocess.run(
        [
            *COPIER,
            "copy",
            "--defaults",
            "--data",
            f"level={level}",
            str(template_snapshot()),
            str(dest),
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert f"level: {level}" in (dest / ".copier-answers.yml").read_text()


def _snapshot(project: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(project)): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(project).parts
    }


@pytest.fixture
def level_1_project(tmp_path) -> Path:
    project = tmp_path / "churn"
    assert main(["new", str(project), "--level", "1", "--defaults"]) == 0
    return project


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            3,
            "Upgrade one level at a time: this project is at level 1 (Tracked), "
            "so the next step is level 2 (Automated).",
        ),
        (0, "Level 0 is below this project's level 1 (Tracked): downgrades are not supported."),
    ],
    ids=["jump", "downgrade"],
)
def test_plain_copier_update_refuses_a_jump_or_downgrade_and_changes_nothing(
    level_1_project, target, message
):
    before = _snapshot(level_1_project)
    head = git(level_1_project, "rev-parse", "HEAD")

    result = copier_update(level_1_project, target)

    assert result.returncode != 0
    assert message in result.stderr
    assert _snapshot(level_1_project) == before
    assert git(level_1_project, "status", "--porcelain") == ""
    assert git(level_1_project, "rev-parse", "HEAD") == head
