"""Tier 4: what `assess` reports beyond one folder's criteria: the level "none", advisory
criteria, the projects of a monorepo, and the deploy approval gate a workflow shows."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from mlops_levels.assessment import Result
from mlops_levels.cli import main
from mlops_levels.commands.assess import _level_reached, _next_step
from mlops_levels.detect import FAIL, PASS, Finding
from mlops_levels.projects import MAX_NESTING, MAX_PROJECTS
from tests.helpers import LADDER, LEVELS
from tests.test_assess import assess, statuses, write

# A notebook that trains: ML code under any reading of level 0.
NOTEBOOK = json.dumps(
    {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "source": ["from sklearn.linear_model import LogisticRegression\n"],
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
)
ML_PROJECT = {
    "pyproject.toml": '[project]\nname = "churn"\ndependencies = ["scikit-learn"]\n',
    "notebooks/train.ipynb": NOTEBOOK,
    "data/raw/.gitkeep": "",
    "models/.gitkeep": "",
    "reports/.gitkeep": "",
}
LIBRARY = {
    "pyproject.toml": '[project]\nname = "slugs"\ndependencies = ["requests"]\n',
    "src/slugs/__init__.py": "def slug(text):\n    return text.lower().replace(' ', '-')\n",
}


def text_of(capsys: pytest.CaptureFixture[str], path: Path, *args: str) -> str:
    capsys.readouterr()
    assert main(["assess", str(path), "--no-input", *args]) == 0
    return capsys.readouterr().out


# --- Level none and advisory criteria --------------------------------------------------


def test_repository_without_ml_code_reaches_no_level(tmp_path, capsys):
    library = write(tmp_path / "slugs", LIBRARY)

    report = assess(capsys, library, "--no-input")

    assert (report["level"], report["level_name"]) == (None, None)
    assert report["next_step"]["level"] == 0
    assert "Level reached: none" in text_of(capsys, library)


def test_every_criterion_says_whether_it_is_advisory_as_levels_declares(tmp_path, capsys):
    report = assess(capsys, tmp_path, "--no-input")

    declared = {c["id"]: c.get("advisory", False) for level in LADDER for c in level["criteria"]}
    assert {c["id"]: c["advisory"] for c in report["criteria"]} == declared


def _results(statuses_: dict[str, str], advisory: set[str]) -> tuple[tuple, list[Result]]:
    """A two-level ladder of the given criteria (id: status), and their results."""
    ladder = tuple(
        {
            "level": number,
            "name": f"Level {number}",
            "criteria": [
                {"id": criterion_id, **({"advisory": True} if criterion_id in advisory else {})}
                for criterion_id in statuses_
                if criterion_id.startswith(f"L{number}-")
            ],
        }
        for number in (0, 1)
    )
    results = [
        Result(level, criterion, Finding(statuses_[criterion["id"]], "evidence"))
        for level in ladder
        for criterion in level["criteria"]
    ]
    return ladder, results


def test_advisory_criterion_that_fails_gates_no_level_and_is_not_a_next_step():
    ladder, results = _results(
        {"L0-code": PASS, "L0-layout": FAIL, "L1-tracking": FAIL}, advisory={"L0-layout"}
    )

    reached = _level_reached(ladder, results)
    step = _next_step(ladder, results, reached, None, Path("."))

    assert reached == 0
    assert step is not None and step.level["level"] == 1
    assert [result.criterion["id"] for result in step.todo] == ["L1-tracking"]


def test_a_missing_advisory_key_gates_like_any_criterion():
    ladder, results = _results({"L0-code": PASS, "L0-layout": FAIL, "L1-x": PASS}, advisory=set())

    assert _level_reached(ladder, results) is None


# --- Projects in a folder --------------------------------------------------------------


def test_monorepo_lists_each_project_with_its_level(tmp_path, capsys):
    root = tmp_path / "mono"
    write(root / "services" / "churn", ML_PROJECT)
    write(root / "libs" / "slugs", LIBRARY)

    report = assess(capsys, root, "--no-input")
    text = text_of(capsys, root)

    levels = {project["path"]: project["level"] for project in report["projects"]}
    assert levels == {"libs/slugs": None, "services/churn": 0}
    assert report["root_is_project"] is False
    churn = next(p for p in report["projects"] if p["path"] == "services/churn")
    assert statuses({"criteria": churn["criteria"]})["L0-dependencies"] == "pass"
    assert "Projects in this folder (2, each assessed alone):" in text
    assert "  libs/slugs      none\n" in text
    assert f"  services/churn  0 - {LADDER[0]['name']}\n" in text
    assert f"mlops-levels assess {root / 'libs' / 'slugs'}" in text


def test_sub_project_named_as_the_path_is_assessed_as_one_project(tmp_path, capsys):
    root = tmp_path / "mono"
    write(root / "services" / "churn", ML_PROJECT)
    write(root / "libs" / "slugs", LIBRARY)
    listed = assess(capsys, root, "--no-input")["projects"]

    alone = assess(capsys, root / "services" / "churn", "--no-input")

    assert alone["projects"] == []
    assert alone["root_is_project"] is True
    assert alone["criteria"] == next(p for p in listed if p["path"] == "services/churn")["criteria"]


def test_project_at_the_root_with_sub_projects_says_so(tmp_path, capsys):
    root = write(tmp_path / "platform", ML_PROJECT)
    write(root / "services" / "api", LIBRARY)

    report = assess(capsys, root, "--no-input")

    assert report["root_is_project"] is True
    assert [project["path"] for project in report["projects"]] == ["services/api"]
    assert "the folder itself is a project too" in text_of(capsys, root)


def test_folders_inside_a_project_are_its_own_unless_they_declare_dependencies(tmp_path, capsys):
    root = write(
        tmp_path / "churn",
        {
            **ML_PROJECT,
            "pipelines/dvc.yaml": "stages: {}\n",  # the project's pipeline, not a project
            "requirements/dev.txt": "pytest\n",  # the project's requirements
            "docs/requirements.txt": "sphinx\n",  # the docs' build
            "tests/fixtures/sample/setup.py": "",  # a test's sample
            "vendor/lib/setup.py": "",  # someone else's code
            "node_modules/pkg/setup.py": "",
            "env/pyvenv.cfg": "",  # a virtual environment, whatever its name
            "env/lib/pkg/pyproject.toml": "",
            "templates/{{cookiecutter.slug}}/setup.py": "",  # what a template generates
            "src/setup.py": "",  # the project's code (Kedro's layout)
            "src/churn/pipelines/__init__.py": "",
            "src/churn/pipelines/train/__init__.py": "",  # a Kedro modular pipeline
            "src/churn/pipelines/train/requirements.txt": "scikit-learn\n",
            "services/api/requirements.txt": "fastapi\n",  # its own dependencies
            "services/api/__init__.py": "",  # a package at the top: still a project
            "services/api/ops/MLproject": "name: api\n",  # inside api, no dependencies
            "experiments/dvc.yaml": "stages: {}\n",  # inside the root project
        },
    )

    report = assess(capsys, root, "--no-input")

    assert [project["path"] for project in report["projects"]] == ["services/api"]


def test_folder_of_projects_finds_those_marked_by_a_pipeline_file(tmp_path, capsys):
    root = write(
        tmp_path / "course",
        {
            "week1/dvc.yaml": "stages: {}\n",
            "week2/MLproject": "name: week2\n",
            "week2/conf/MLproject": "name: nested\n",  # week2's own
            "week3/.zen/config.yaml": "version: 0.60\n",  # `zenml init`
            "week4/.kedro.yml": "context_path: week4.run.ProjectContext\n",
            "README.md": "# course\n",
        },
    )

    report = assess(capsys, root, "--no-input")

    assert report["root_is_project"] is False
    paths = [project["path"] for project in report["projects"]]
    assert paths == ["week1", "week2", "week3", "week4"]


def test_more_projects_than_the_limit_are_cut_with_a_warning(tmp_path, capsys):
    count = MAX_PROJECTS + 1
    write(tmp_path, {f"exercise{n:03}/requirements.txt": "numpy\n" for n in range(count)})

    report = assess(capsys, tmp_path, "--no-input")

    assert len(report["projects"]) == MAX_PROJECTS
    assert {
        "path": ".",
        "why": f"{count} projects found: only the first {MAX_PROJECTS} assessed",
    } in (report["warnings"])


def test_a_chain_of_nested_projects_is_listed_two_deep_with_a_warning(tmp_path, capsys):
    write(tmp_path, {f"{'/'.join('abcd'[:n])}/requirements.txt": "numpy\n" for n in range(1, 5)})

    report = assess(capsys, tmp_path, "--no-input")

    assert [project["path"] for project in report["projects"]] == ["a", "a/b"]
    why = f"2 projects nested in {MAX_NESTING} others: not listed"
    assert {"path": ".", "why": why} in report["warnings"]


def test_project_folders_with_any_name_print_one_line_each(tmp_path, capsys):
    for name in (b"new\nline", b"caf\xe9"):  # a newline; a name that is not UTF-8
        folder = tmp_path / os.fsdecode(name)
        folder.mkdir()
        (folder / "requirements.txt").write_text("numpy\n")

    text = text_of(capsys, tmp_path)

    assert "\n  caf\\udce9  none\n  new\\nline  none\n" in text


# --- The deploy approval gate (L3-cd) ----------------------------------------------------

GITHUB_DEPLOY = """\
    name: CD
    on: {push: {branches: [main]}}
    jobs:
      test:
        runs-on: ubuntu-latest
        environment: ci
        steps:
          - run: pytest
      release:
        runs-on: ubuntu-latest
        environment:
          name: production
          url: https://churn.example.com
        steps:
          - run: kubectl apply -f k8s/
    """
GATES = {
    "github environment on a job that runs kubectl": (
        ".github/workflows/cd.yml",
        GITHUB_DEPLOY,
        ".github/workflows/cd.yml:11: environment:",
    ),
    "github environment on a job named deploy": (
        ".github/workflows/release.yaml",
        """\
        jobs:
          deploy:
            runs-on: ubuntu-latest
            environment: production
            steps:
              - uses: actions/checkout@v4
        """,
        ".github/workflows/release.yaml:4: environment: production",
    ),
    "gitlab manual deploy job": (
        ".gitlab-ci.yml",
        """\
        stages: [test, deploy]
        ship:
          stage: deploy
          script: [helm upgrade churn chart/]
          when: manual
        """,
        ".gitlab-ci.yml:5: when: manual",
    ),
    "gitlab deploy rule that waits for a person": (
        ".gitlab-ci.yml",
        """\
        deploy-prod:
          script:
            - curl -X POST "$HOOK"
          rules:
            - if: $CI_COMMIT_BRANCH == "main"
              when: manual
        """,
        ".gitlab-ci.yml:6: when: manual",
    ),
    "gitlab manual deploy job in an included file": (
        ".gitlab/ci/deploy.yml",
        """\
        deploy:
          script: [kubectl rollout restart deployment/churn]
          when: manual
        """,
        ".gitlab/ci/deploy.yml:3: when: manual",
    ),
    "gitlab production tier environment": (
        ".gitlab-ci.yml",
        """\
        deploy:
          script: [docker push registry/churn]
          environment:
            name: prod
            deployment_tier: production
        """,
        ".gitlab-ci.yml:5: deployment_tier: production",
    ),
}
NO_GATES = {
    "github deploy without an environment": (
        ".github/workflows/cd.yml",
        "jobs:\n  deploy:\n    steps:\n      - run: kubectl apply -f k8s/\n",
    ),
    "github environment on a job that only tests": (
        ".github/workflows/ci.yml",
        "jobs:\n  test:\n    environment: ci\n    steps:\n      - run: pytest\n",
    ),
    "github pages site": (
        ".github/workflows/docs.yml",
        "jobs:\n  pages:\n    environment: github-pages\n"
        "    steps:\n      - uses: actions/deploy-pages@v4\n",
    ),
    "gitlab manual job that deploys nothing": (
        ".gitlab-ci.yml",
        "cleanup:\n  script: [rm -rf cache]\n  when: manual\n",
    ),
    "gitlab deploy that runs on its own": (
        ".gitlab-ci.yml",
        "deploy:\n  script: [helm upgrade churn chart/]\n  environment: {name: staging}\n",
    ),
    "unparseable workflow": (".github/workflows/cd.yml", "jobs: [deploy\n"),
    "github jobs of any shape": (
        ".github/workflows/odd.yml",
        "jobs:\n  1: {environment: prod, steps: {run: helm}}\n  deploy: [environment]\n"
        "  release: {environment: [prod], steps: [run, {run: 3}]}\n",
    ),
    "gitlab jobs of any shape": (
        ".gitlab-ci.yml",
        "include: 7\n2: {script: [helm x], rules: {when: manual}}\ndeploy: [when, manual]\n"
        "release: {script: {a: helm}, environment: prod, when: [manual]}\n",
    ),
    "gitlab include out of the folder": (
        ".gitlab-ci.yml",
        "include:\n  - local: ../outside/deploy.yml\n  - remote: https://example.com/ci.yml\n",
    ),
}


@pytest.mark.parametrize(("path", "workflow", "line"), GATES.values(), ids=GATES.keys())
def test_deploy_behind_an_approval_gate_passes_cd_with_its_line(
    tmp_path, capsys, path, workflow, line
):
    write(tmp_path, {path: textwrap.dedent(workflow)})
    if path != ".gitlab-ci.yml" and path.startswith(".gitlab"):
        write(tmp_path, {".gitlab-ci.yml": "include:\n  - local: /.gitlab/ci/*.yml\n"})

    cd = next(c for c in assess(capsys, tmp_path, "--no-input")["criteria"] if c["id"] == "L3-cd")

    assert cd["status"] == "pass"
    assert cd["evidence"].startswith(line)
    if path.startswith(".github"):
        assert "required reviewers live in the repository's settings" in cd["evidence"]


@pytest.mark.parametrize(("path", "workflow"), NO_GATES.values(), ids=NO_GATES.keys())
def test_workflow_without_an_approval_gate_leaves_cd_to_the_question(
    tmp_path, capsys, path, workflow
):
    root = write(tmp_path / "repo", {path: workflow})
    # Beside the folder, not in it: not its evidence.
    write(tmp_path, {"outside/deploy.yml": "deploy:\n  script: [helm x]\n  when: manual\n"})

    cd = next(c for c in assess(capsys, root, "--no-input")["criteria"] if c["id"] == "L3-cd")
    answered = assess(capsys, root, "--no-input", "--answer", "L3-cd=yes")

    assert cd["status"] == "unknown"
    assert cd["evidence"].startswith("no workflow shows a deploy that waits for a person's")
    assert statuses(answered)["L3-cd"] == "pass"


# --- Freshly generated projects ----------------------------------------------------------


def _asked_only(level: int) -> list[str]:
    """Criteria up to a level that only a person can settle: no rule could show them."""
    return [
        c["id"]
        for step in LADDER[: level + 1]
        for c in step["criteria"]
        if "question" in c and "detect" not in c
    ]


@pytest.mark.parametrize("level", LEVELS)
def test_fresh_project_reaches_its_level_with_no_input_but_what_only_a_person_knows(
    capsys, render, level
):
    project = render(level)
    asked = _asked_only(level)

    alone = assess(capsys, project, "--no-input")
    answered = assess(capsys, project, "--no-input", *(f"--answer={a}=yes" for a in asked))

    assert answered["level"] == level
    held = [c for c in alone["criteria"] if c["level"] <= level and not c["advisory"]]
    assert [c["id"] for c in held if c["status"] != "pass"] == asked
    if not asked:
        assert alone["level"] == level


def test_fresh_gitlab_project_passes_cd_from_its_manual_deploy_job(capsys, render):
    level = next(s["level"] for s in LADDER if any(c["id"] == "L3-cd" for c in s["criteria"]))
    project = render(level, ci_provider="gitlab")

    report = assess(capsys, project, "--no-input")

    assert report["level"] == level
    assert "when: manual" in next(c for c in report["criteria"] if c["id"] == "L3-cd")["evidence"]


# --- A monorepo's root CI, as its projects see it ---------------------------------------

SERVICE = {
    "pyproject.toml": '[project]\nname = "svc"\ndependencies = ["scikit-learn"]\n',
    "notebooks/train.ipynb": NOTEBOOK,
    "tests/test_it.py": "def test_it():\n    assert len('ab') == 2\n",
}
ROOT_CI = {
    # One job per way a root workflow names a project's folder.
    ".github/workflows/ci.yml": textwrap.dedent(
        """\
        on: push
        jobs:
          churn:
            runs-on: ubuntu-latest
            defaults: {run: {working-directory: services/churn}}
            steps:
              - run: uv run pytest
          fraud:
            runs-on: ubuntu-latest
            steps:
              - run: cd services/fraud && uv run pytest -q
          each:
            strategy: {matrix: {project: [ranking]}}
            runs-on: ubuntu-latest
            steps:
              - run: pytest
                working-directory: services/${{ matrix.project }}
          deploy-fraud:
            runs-on: ubuntu-latest
            environment: production
            steps:
              - run: cd services/fraud && docker push registry/fraud
        """
    ),
    ".github/workflows/research.yml": textwrap.dedent(
        """\
        on: {pull_request: {paths: ["research/**"]}}
        jobs:
          test:
            runs-on: ubuntu-latest
            steps:
              - run: python -m pytest research
        """
    ),
}
FOLDERS = ["services/churn", "services/fraud", "services/ranking", "research", "services/idle"]


def monorepo(root: Path) -> Path:
    for folder in FOLDERS:
        write(root / folder, SERVICE)
    return write(root, ROOT_CI)


def test_root_ci_that_names_a_project_folder_is_that_projects_ci(tmp_path, capsys):
    report = assess(capsys, monorepo(tmp_path), "--no-input")

    found = {p["path"]: {c["id"]: c for c in p["criteria"]} for p in report["projects"]}
    assert sorted(found) == sorted(FOLDERS)
    ci = {path: criteria["L2-ci"] for path, criteria in found.items()}
    assert {path: c["status"] for path, c in ci.items()} == {
        "services/churn": "pass",  # a working-directory
        "services/fraud": "pass",  # cd folder && ...
        "services/ranking": "pass",  # a matrix over the folders
        "research": "pass",  # a paths filter
        "services/idle": "fail",  # named by no job
    }
    # Evidence paths are relative to the folder the user gave, where the workflow is.
    assert ci["services/fraud"]["evidence"].startswith(".github/workflows/ci.yml:11:")
    assert ci["research"]["evidence"].startswith(".github/workflows/research.yml:6:")


def test_root_deploy_gate_counts_only_for_the_project_it_deploys(tmp_path, capsys):
    report = assess(capsys, monorepo(tmp_path), "--no-input")

    cd = {
        p["path"]: next(c for c in p["criteria"] if c["id"] == "L3-cd") for p in report["projects"]
    }
    assert cd["services/fraud"]["status"] == "pass"
    assert cd["services/fraud"]["evidence"].startswith(".github/workflows/ci.yml:20:")
    assert "job deploy-fraud" in cd["services/fraud"]["evidence"]
    assert cd["services/churn"]["status"] == "unknown"  # the gate deploys another project


def test_a_project_folder_given_alone_sees_the_root_ci_that_names_it(tmp_path, capsys):
    root = monorepo(tmp_path / "mono")

    fraud = statuses_and_evidence(assess(capsys, root / "services" / "fraud", "--no-input"))
    idle = statuses_and_evidence(assess(capsys, root / "services" / "idle", "--no-input"))

    # Shown from the folder given: the workflow is two folders up.
    assert fraud["L2-ci"][0] == "pass"
    assert fraud["L2-ci"][1].startswith("../../.github/workflows/ci.yml:11:")
    assert fraud["L3-cd"][0] == "pass"
    assert fraud["L3-cd"][1].startswith("../../.github/workflows/ci.yml:20:")
    assert idle["L2-ci"][0] == "fail"


def test_a_repository_of_its_own_inside_another_does_not_see_the_outer_ci(tmp_path, capsys):
    root = monorepo(tmp_path / "mono")
    (root / "services" / "fraud" / ".git").mkdir()  # a checkout of another repository

    fraud = statuses_and_evidence(assess(capsys, root / "services" / "fraud", "--no-input"))

    assert fraud["L2-ci"][0] == "fail"


def statuses_and_evidence(report: dict) -> dict[str, tuple[str, str]]:
    return {c["id"]: (c["status"], c["evidence"]) for c in report["criteria"]}
