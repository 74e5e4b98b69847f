"""Tier 4: `mlops-levels assess` on generated projects, other templates' projects, hand-made
repositories and an empty folder; the check registry; the JSON schema."""

from __future__ import annotations

import json
import re
import shutil
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
import yaml

from mlops_levels.answers import ANSWERS_FILE
from mlops_levels.checks import all_checks, build_checks, fix_hint
from mlops_levels.cli import main
from tests.helpers import LADDER, LEVELS, REPO, commit_all, copier_update, run_at_a_terminal

CRITERIA = [criterion for level in LADDER for criterion in level["criteria"]]
QUESTIONS = [criterion["id"] for criterion in CRITERIA if "question" in criterion]
# Every question answered yes: what a team at the top of the ladder would say.
YES_TO_ALL = [f"--answer={criterion_id}=yes" for criterion_id in QUESTIONS]
SCHEMA = json.loads((files("mlops_levels") / "schemas" / "assess.schema.json").read_text())


def assess(capsys: pytest.CaptureFixture[str], path: Path, *args: str) -> dict:
    """Run `assess --json` and return its output, checked against the schema the package ships."""
    capsys.readouterr()  # drop what fixtures printed, e.g. `new`
    assert main(["assess", str(path), "--json", *args]) == 0
    report = json.loads(capsys.readouterr().out)
    jsonschema.validate(report, SCHEMA)
    return report


def statuses(report: dict) -> dict[str, str]:
    return {criterion["id"]: criterion["status"] for criterion in report["criteria"]}


def write(root: Path, files_: dict[str, str]) -> Path:
    for name, text in files_.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# --- The check registry -------------------------------------------------------------


def test_every_criterion_has_exactly_one_check_and_every_check_a_criterion():
    ids = [criterion["id"] for criterion in CRITERIA]

    assert len(ids) == len(set(ids)), "two criteria in levels/ share an id"
    assert sorted(all_checks()) == sorted(ids)


def test_every_check_has_a_fix_hint():
    for criterion in CRITERIA:
        assert len(fix_hint(criterion["id"])) > 20, criterion["id"]


def test_a_second_criterion_with_the_same_id_is_refused():
    level = {"level": 0, "criteria": [CRITERIA[0], CRITERIA[0]]}

    with pytest.raises(ValueError, match=f"two criteria have the id {CRITERIA[0]['id']}"):
        build_checks([level])


def test_a_criterion_without_a_hint_is_refused():
    silent = {key: value for key, value in CRITERIA[0].items() if key != "hint"}

    with pytest.raises(ValueError, match="needs a hint: what to do when it does not hold"):
        build_checks([{"level": 0, "criteria": [silent]}])


# --- Projects this template generated --------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_fresh_project_reaches_exactly_its_level_with_every_criterion_met(capsys, render, level):

    report = assess(capsys, render(level), *YES_TO_ALL)

    met = {c["id"]: c["status"] for c in report["criteria"] if c["level"] <= level}
    assert met == dict.fromkeys(met, "pass")
    assert report["level"] == level
    assert report["level_name"] == LADDER[level]["name"]
    assert report["generated"]["level"] == level


@pytest.mark.parametrize("level", LEVELS)
def test_generated_project_is_told_the_upgrade_command_its_maturity_md_gives(capsys, render, level):
    project = render(level)

    step = assess(capsys, project, *YES_TO_ALL)["next_step"]

    if level + 1 == len(LADDER):
        assert step is None
    else:
        assert step["level"] == level + 1
        assert f"\n{step['command']}\n" in (project / "MATURITY.md").read_text()
        assert step["preview"] == f"mlops-levels diff {level} {level + 1} --project {project}"


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory):
    """The project at each level, upgraded one step at a time from the lowest level."""
    steps: dict[int, Path] = {}

    def _upgraded(level: int) -> Path:
        if level in steps:
            return steps[level]
        project = tmp_path_factory.mktemp("upgrade") / "churn"
        if level == LEVELS[0]:
            assert main(["new", str(project), "--level", str(level), "--defaults"]) == 0
        else:
            shutil.copytree(_upgraded(level - 1), project, symlinks=True)
            # The command README.md and MATURITY.md give, run as they say.
            result = copier_update(project, level)
            assert result.returncode == 0, result.stderr
            commit_all(project, f"Upgrade to level {level}")
        steps[level] = project
        return project

    return _upgraded


@pytest.mark.parametrize("level", LEVELS[1:])
def test_each_upgrade_step_reaches_the_new_level(capsys, upgraded, level):

    report = assess(capsys, upgraded(level), *YES_TO_ALL)

    assert report["generated"]["level"] == level
    assert report["level"] == level


def test_generated_project_that_lost_a_criterion_is_told_what_to_restore(tmp_path, capsys, render):
    level = LEVELS[1]
    project = tmp_path / "churn"
    shutil.copytree(render(level), project)
    before = assess(capsys, project, *YES_TO_ALL)
    # A criterion of this level whose evidence is one file: delete that file.
    lost = next(
        criterion
        for criterion in before["criteria"]
        if criterion["level"] == level and (project / criterion["evidence"]).is_file()
    )
    (project / lost["evidence"]).unlink()

    after = assess(capsys, project, *YES_TO_ALL)
    assert main(["assess", str(project), *YES_TO_ALL]) == 0
    text = capsys.readouterr().out

    assert statuses(after)[lost["id"]] == "fail"
    assert after["level"] == level - 1
    assert after["next_step"]["command"] is None
    assert lost["id"] in after["next_step"]["todo"]
    assert f"records level {level} ({LADDER[level]['name']})" in text
    assert f"  - {lost['id']}: {fix_hint(lost['id'])}" in text


def test_text_report_names_the_level_the_evidence_and_the_upgrade(capsys, render):
    level = LEVELS[1]
    project = render(level)
    report = assess(capsys, project, *YES_TO_ALL)

    assert main(["assess", str(project), *YES_TO_ALL]) == 0
    text = capsys.readouterr().out

    assert f"Generated by mlops-levels at level {level} ({LADDER[level]['name']})" in text
    assert f"Level reached: {level} - {LADDER[level]['name']}" in text
    for criterion in report["criteria"]:
        assert f"{criterion['status']:<7}  {criterion['id']} " in text
        assert f"evidence: {criterion['evidence']}" in text
    assert report["next_step"]["command"] in text
    assert report["next_step"]["preview"] in text


# --- Other repositories ---------------------------------------------------------------

NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def cookiecutter_data_science(root: Path) -> Path:
    """A project laid out as cookiecutter-data-science v2 generates it, with one notebook."""
    return write(
        root,
        {
            "Makefile": "requirements:\n\tpip install -r requirements.txt\n\n"
            "test:\n\tpython -m pytest tests\n",
            "README.md": "# churn\n",
            "pyproject.toml": '[project]\nname = "churn"\nversion = "0.0.1"\n',
            "requirements.txt": "-e .\npandas\nscikit-learn\ntyper\nloguru\n",
            "data/raw/.gitkeep": "",
            "data/interim/.gitkeep": "",
            "data/processed/.gitkeep": "",
            "data/external/.gitkeep": "",
            "models/.gitkeep": "",
            "notebooks/1.0-jqp-initial-data-exploration.ipynb": NOTEBOOK,
            "references/.gitkeep": "",
            "reports/figures/.gitkeep": "",
            "docs/index.md": "# churn\n",
            "churn/__init__.py": "",
            "churn/config.py": "from pathlib import Path\n",
            "churn/dataset.py": "",
            "churn/features.py": "",
            "churn/plots.py": "",
            "churn/modeling/__init__.py": "",
            "churn/modeling/train.py": "import typer\n\napp = typer.Typer()\n\n"
            'if __name__ == "__main__":\n    app()\n',
            "churn/modeling/predict.py": "",
        },
    )


def test_cookiecutter_data_science_project_stands_at_level_0_with_its_package_found(
    tmp_path, capsys
):
    project = cookiecutter_data_science(tmp_path / "churn")

    report = assess(capsys, project, "--no-input")

    found = {c["id"]: c for c in report["criteria"]}
    assert report["generated"] is None
    assert report["level"] == 0
    assert [found[c["id"]]["status"] for c in LADDER[0]["criteria"]] == ["pass"] * len(
        LADDER[0]["criteria"]
    )
    assert found["L1-package"]["status"] == "pass"
    package = found["L1-package"]["evidence"]
    assert package == "churn/modeling/train.py (a command in package churn/)"
    assert found["L1-tracking"]["status"] == "fail"
    step = report["next_step"]
    assert step["level"] == 1
    assert step["command"] is None
    assert step["todo"] == [c["id"] for c in LADDER[1]["criteria"] if c["id"] != "L1-package"]


def test_empty_folder_reaches_no_level_and_is_told_what_level_0_needs(tmp_path, capsys):
    report = assess(capsys, tmp_path, "--no-input")
    assert main(["assess", str(tmp_path), "--no-input"]) == 0
    text = capsys.readouterr().out

    first = LADDER[0]
    gating = [c["id"] for c in first["criteria"] if not c.get("advisory")]
    assert report["level"] is None
    assert report["level_name"] is None
    assert report["generated"] is None
    assert report["projects"] == []
    assert report["next_step"]["level"] == first["level"]
    assert report["next_step"]["todo"] == gating
    assert "Level reached: none" in text
    assert f"Next step: to reach level {first['level']} ({first['name']}):" in text
    for criterion_id in gating:
        assert f"  - {criterion_id}: {fix_hint(criterion_id)}" in text


def test_hand_made_repository_at_level_1_is_told_what_to_add_for_level_2(tmp_path, capsys):
    project = write(
        tmp_path / "fraud",
        {
            "notebooks/explore.ipynb": NOTEBOOK,
            "data/raw/transactions.csv.dvc": "outs:\n- md5: 0\n  path: transactions.csv\n",
            "models/.gitkeep": "",
            "reports/summary.md": "",
            "pyproject.toml": '[project]\nname = "fraud"\nversion = "1"\n'
            'dependencies = ["pandas", "MLflow[extras]>=2"]\n',
            "src/fraud/__init__.py": "",
            "src/fraud/__main__.py": "import mlflow\n\nmlflow.autolog()\n",
            "src/fraud/train.py": "",
            "configs/train.yaml": "C: 1\n",
        },
    )

    report = assess(capsys, project, "--no-input")
    assert main(["assess", str(project), "--no-input"]) == 0
    text = capsys.readouterr().out

    assert report["level"] == 1
    assert report["next_step"]["command"] is None
    assert statuses(report)["L1-tracking"] == "pass"
    tracking = next(c for c in report["criteria"] if c["id"] == "L1-tracking")
    assert tracking["evidence"] == "src/fraud/__main__.py:3: mlflow.autolog()"
    assert "Not generated by mlops-levels" in text
    assert "Next step: to reach level 2 (Automated):" in text
    for criterion in LADDER[2]["criteria"]:
        assert f"  - {criterion['id']}: {fix_hint(criterion['id'])}" in text


def test_ci_evidence_is_the_line_a_workflow_runs_not_an_install(tmp_path, capsys):
    project = write(
        tmp_path / "repo",
        {
            ".github/workflows/ci.yml": "on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
            "    steps:\n      - uses: actions/checkout@v4\n      - run: |\n"
            "          pip install pytest\n          python -m pytest -q\n",
        },
    )
    only_installs = write(
        tmp_path / "installs",
        {".gitlab-ci.yml": "test:\n  script:\n    - pip install pytest pandera\n"},
    )

    ci = next(c for c in assess(capsys, project, "--no-input")["criteria"] if c["id"] == "L2-ci")
    installs = assess(capsys, only_installs, "--no-input")

    assert ci["status"] == "pass"
    assert ci["evidence"] == ".github/workflows/ci.yml:9: python -m pytest -q"
    assert statuses(installs)["L2-ci"] == "fail"


def test_ci_that_runs_tests_through_make_shows_the_makefile_line(tmp_path, capsys):
    project = write(
        tmp_path / "repo",
        {
            # GitLab's own tags, such as !reference, must not hide the file's jobs.
            ".gitlab-ci.yml": ".setup:\n  script: [uv sync]\nunit:\n  script:\n"
            "    - !reference [.setup, script]\n    - make lint test\n",
            "Makefile": "lint:\n\truff check .\n\ntest: lint\n\tuv run pytest tests\n",
        },
    )

    ci = next(c for c in assess(capsys, project, "--no-input")["criteria"] if c["id"] == "L2-ci")

    assert ci["status"] == "pass"
    assert (
        ci["evidence"] == "Makefile:5: uv run pytest tests (run by `make test` in .gitlab-ci.yml)"
    )


def test_config_key_is_read_and_a_dependency_counts_where_code_imports_it(tmp_path, capsys):
    project = write(
        tmp_path / "repo",
        {
            "dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n  promote:\n"
            "    cmd: python promote.py\n",
            "requirements/serve.txt": "# serving\nFastAPI==0.115  # the API\nsqlalchemy==2.0\n",
            "serve/app.py": "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n"
            '@app.get("/health")\ndef health():\n    return {}\n',
            "environment.yml": "dependencies:\n  - python=3.11\n  - pip:\n    - evidently>=0.4\n",
            "jobs/drift.py": "import evidently\n",
            ".github/workflows/drift.yml": "name: drift\non:\n  schedule:\n"
            "    - cron: '0 6 * * *'\n",
        },
    )

    found = {c["id"]: c for c in assess(capsys, project, "--no-input")["criteria"]}

    assert found["L3-registry"]["evidence"] == "dvc.yaml:4: promote:"
    assert found["L3-serving"]["evidence"] == 'serve/app.py:6: @app.get("/health")'
    assert found["L4-monitoring"]["evidence"] == (
        "jobs/drift.py:1: import evidently; .github/workflows/drift.yml:3: schedule:"
    )
    # Pinned but never imported, as a transitive dependency is: no prediction logging.
    assert found["L4-prediction-logging"]["status"] == "fail"


def test_installed_packages_and_tool_folders_are_not_evidence(tmp_path, capsys):
    project = write(
        tmp_path / "repo",
        {
            ".venv/lib/python3.11/site-packages/demo/intro.ipynb": NOTEBOOK,
            "env/conda-meta/history": "",
            "env/share/examples/demo.ipynb": NOTEBOOK,
            "node_modules/lib/demo.ipynb": NOTEBOOK,
            ".ipynb_checkpoints/explore-checkpoint.ipynb": NOTEBOOK,
        },
    )

    assert statuses(assess(capsys, project, "--no-input"))["L0-ml-code"] == "fail"


def test_a_git_repository_is_assessed_from_its_working_tree(tmp_path, capsys):
    project = cookiecutter_data_science(tmp_path / "churn")
    commit_all(project)

    assert assess(capsys, project, "--no-input")["level"] == 0


# --- Questions --------------------------------------------------------------------------


needs_questions = pytest.mark.skipif(not QUESTIONS, reason="no criterion asks a question")


def _asked_only(criterion: dict) -> bool:
    return "question" in criterion and "detect" not in criterion


@needs_questions
def test_questions_are_unknown_without_a_terminal(tmp_path, capsys):
    report = assess(capsys, tmp_path)

    for criterion in report["criteria"]:
        if criterion["id"] in QUESTIONS:
            question = next(c["question"] for c in CRITERIA if c["id"] == criterion["id"])
            assert criterion["status"] == "unknown"
            assert criterion["evidence"].endswith(f"; not answered: {question}")


@needs_questions
@pytest.mark.parametrize(("answer", "status"), [("yes", "pass"), ("no", "fail"), ("YES", "pass")])
def test_answer_option_settles_a_question(tmp_path, capsys, answer, status):
    question = QUESTIONS[0]

    report = assess(capsys, tmp_path, "--no-input", "--answer", f"{question}={answer}")

    assert statuses(report)[question] == status


@needs_questions
def test_unanswered_question_holds_a_project_back_and_is_named_in_the_next_step(capsys, render):
    # A question no rule can settle: a render answers the others from its files.
    level = next(step for step in LADDER if any(_asked_only(c) for c in step["criteria"]))
    question = next(c for c in level["criteria"] if _asked_only(c))
    project = render(level["level"])

    report = assess(capsys, project, "--no-input")
    assert main(["assess", str(project), "--no-input"]) == 0
    text = capsys.readouterr().out

    assert report["level"] == level["level"] - 1
    assert question["id"] in report["next_step"]["todo"]
    assert f"or pass --answer {question['id']}=yes" in text


KEYS = {"yes": b"\r", "no": b"\x1b[B\r", "not sure": b"\x1b[B\x1b[B\r"}  # menu order
STATUS = {"yes": "pass", "no": "fail", "not sure": "unknown"}


def assess_at_a_terminal(path: Path, answers: dict[str, str], *args: str) -> dict[str, str]:
    """Run `assess` at a terminal, answer each question as its menu appears, and return
    the statuses it printed."""
    keys = [(f"({question})", KEYS[answer]) for question, answer in answers.items()]
    result = run_at_a_terminal("assess", str(path), *args, keys=keys)
    assert result.code == 0, result.text
    return dict(
        (criterion_id, status)
        for status, criterion_id in re.findall(r"^ +(pass|fail|unknown) +(\S+) ", result.text, re.M)
    )


@needs_questions
def test_questions_are_asked_at_a_terminal(tmp_path):
    choices = list(KEYS)
    answers = {question: choices[i % len(choices)] for i, question in enumerate(QUESTIONS)}

    found = assess_at_a_terminal(tmp_path, answers)

    assert {question: found[question] for question in QUESTIONS} == {
        question: STATUS[answer] for question, answer in answers.items()
    }


@needs_questions
def test_no_input_asks_nothing_even_at_a_terminal(tmp_path):
    found = assess_at_a_terminal(tmp_path, {}, "--no-input")

    assert {question: found[question] for question in QUESTIONS} == dict.fromkeys(
        QUESTIONS, "unknown"
    )


def test_bad_answers_and_paths_are_usage_errors(tmp_path, capsys):
    detected = next(c["id"] for c in CRITERIA if "detect" in c)
    cases = [
        (["assess", str(tmp_path / "missing")], "is not a folder"),
        (["assess", str(tmp_path), "--answer", f"{detected}=yes"], "no criterion with that id"),
    ]
    if QUESTIONS:
        cases.append(
            (["assess", str(tmp_path), "--answer", f"{QUESTIONS[0]}=maybe"], "answer yes or no")
        )

    for argv, message in cases:
        assert main(argv) == 2
        assert message in capsys.readouterr().err


def test_assess_defaults_to_the_current_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(cookiecutter_data_science(tmp_path / "churn"))

    report = assess(capsys, Path("."), "--no-input")

    assert report["path"] == str((tmp_path / "churn").resolve())
    assert report["level"] == 0


def test_answers_file_name_is_the_one_copier_yml_sets():
    config = yaml.safe_load((REPO / "copier.yml").read_text())

    assert config["_answers_file"] == ANSWERS_FILE
