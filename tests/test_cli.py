"""Tier 4: the CLI's `new` and `levels` commands, their errors and JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops_levels import __version__
from mlops_levels.cli import main
from mlops_levels.template_source import prepare
from tests.helpers import LADDER, LEVELS, REPO, git


@pytest.mark.parametrize("level", LEVELS)
def test_new_generates_a_committed_project_that_copier_can_update(tmp_path, level):
    project = tmp_path / "churn"

    assert main(["new", str(project), "--level", str(level), "--defaults"]) == 0

    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["level"] == level
    assert answers["project_name"] == "churn"
    assert Path(answers["_src_path"]).expanduser() == prepare().path
    assert answers["_commit"] == prepare().ref
    assert git(project, "status", "--porcelain") == ""
    # CI and the Dockerfile install with `uv sync --locked`: the lock is in the first commit.
    assert "uv.lock" in git(project, "ls-files").split()
    name = LADDER[level]["name"]
    assert (
        git(project, "log", "--format=%s") == f"Start at level {level} ({name}) with mlops-levels\n"
    )


def test_new_takes_answers_from_data(tmp_path):
    project = tmp_path / "p"

    assert main(["new", str(project), "--defaults", "--data", "project_name=Fraud Alerts"]) == 0

    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["package_name"] == "fraud_alerts"
    assert answers["level"] == 0


def test_new_refuses_a_non_empty_destination_and_leaves_it_alone(tmp_path, capsys):
    project = tmp_path / "churn"
    project.mkdir()
    (project / "notes.txt").write_text("mine")

    assert main(["new", str(project), "--defaults"]) == 3

    assert "is not empty" in capsys.readouterr().err
    assert [path.name for path in project.iterdir()] == ["notes.txt"]


def test_new_with_force_generates_into_a_non_empty_destination(tmp_path):
    project = tmp_path / "churn"
    project.mkdir()
    (project / "notes.txt").write_text("mine")

    assert main(["new", str(project), "--defaults", "--force"]) == 0

    assert (project / "notes.txt").read_text() == "mine"
    assert (project / "MATURITY.md").is_file()


def test_new_with_force_leaves_the_files_already_there_out_of_the_first_commit(tmp_path, capsys):
    project = tmp_path / "churn"
    (project / "drafts").mkdir(parents=True)
    (project / "notes.txt").write_text("mine")
    (project / "drafts" / "idea.md").write_text("mine too")

    assert main(["new", str(project), "--defaults", "--force"]) == 0

    tracked = git(project, "ls-files").split()
    assert "MATURITY.md" in tracked
    assert "notes.txt" not in tracked
    assert "drafts/idea.md" not in tracked
    assert git(project, "status", "--porcelain").split("\n")[:2] == ["?? drafts/", "?? notes.txt"]
    out = capsys.readouterr().out
    assert "Left out of the first commit, as they were in" in out
    assert "drafts/idea.md, notes.txt" in out


def test_new_still_creates_the_project_without_the_package_index_and_says_how_to_lock(
    tmp_path, capsys, monkeypatch
):
    project = tmp_path / "churn"
    # A closed port as the only index, and no cache to fall back on: uv cannot resolve.
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("UV_NO_CACHE", "1")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")

    assert main(["new", str(project), "--level", "1", "--defaults"]) == 0

    assert (project / "MATURITY.md").is_file()
    assert git(project, "status", "--porcelain") == ""
    assert "uv.lock" not in git(project, "ls-files").split()
    err = capsys.readouterr().err
    assert f"warning: {project} has no uv.lock: `uv lock` exited" in err
    assert 'uv lock && git add uv.lock && git commit -m "Lock the dependencies"' in err


def test_new_warns_when_the_destination_is_inside_another_git_work_tree(tmp_path, capsys):
    outer = tmp_path / "checkout"
    outer.mkdir()
    git(outer, "init", "--quiet")

    assert main(["new", str(outer / "my-project"), "--defaults"]) == 0

    err = capsys.readouterr().err
    assert f"is inside the git work tree {outer}" in err
    assert "add my-project/ to its .gitignore" in err


def test_new_generates_into_a_folder_given_relative_to_a_parent(tmp_path, monkeypatch):
    """The README scaffolds with `new ../my-project`, next to the clone."""
    (tmp_path / "clone").mkdir()
    monkeypatch.chdir(tmp_path / "clone")

    assert main(["new", "../my-project", "--defaults"]) == 0

    assert (tmp_path / "my-project" / ".copier-answers.yml").is_file()


def test_new_does_not_warn_outside_any_git_work_tree(tmp_path, capsys):
    assert main(["new", str(tmp_path / "churn"), "--defaults"]) == 0

    assert "git work tree" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--level", "7"], "level 7 does not exist: choose 0 to 4."),
        (["--data", "colour=blue"], "--data colour: no such question. The questions are:"),
        (["--data", "project_name"], "is not KEY=VALUE"),
        (["--data", "author_email=nobody"], '"nobody" is not an email address'),
    ],
    ids=["unknown-level", "unknown-key", "not-key-value", "bad-answer"],
)
def test_new_reports_bad_input_and_creates_nothing(tmp_path, capsys, args, message):
    project = tmp_path / "churn"

    assert main(["new", str(project), "--defaults", *args]) == 2

    assert message in capsys.readouterr().err
    assert not project.exists()


def test_new_refuses_a_file_as_destination(tmp_path, capsys):
    target = tmp_path / "churn"
    target.write_text("not a folder")

    assert main(["new", str(target), "--defaults"]) == 2

    assert "is a file" in capsys.readouterr().err
    assert target.read_text() == "not a folder"


def test_levels_json_lists_every_level_with_its_criteria(capsys):
    assert main(["levels", "--json"]) == 0

    printed = json.loads(capsys.readouterr().out)
    assert printed == list(LADDER)
    assert [level["level"] for level in printed] == [0, 1, 2, 3, 4]
    assert all(level["criteria"] for level in printed)


def test_levels_prints_the_ladder_for_people(capsys):
    assert main(["levels"]) == 0

    out = capsys.readouterr().out
    for level in LADDER:
        assert f"{level['level']} - {level['name']}: {level['summary']}" in out
        for criterion in level["criteria"]:
            assert f"[{criterion['id']}]" in out


def test_template_cache_keeps_one_tag_per_template_content(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_LEVELS_HOME", str(tmp_path))

    first = prepare()
    again = prepare()

    assert first == again
    assert first.ref == f"v{__version__}"
    assert git(first.path, "tag", "--list") == f"v{__version__}\n"


def test_template_cache_is_recorded_relative_to_home_for_portability(tmp_path, monkeypatch):
    monkeypatch.delenv("MLOPS_LEVELS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))

    source = prepare()

    assert source.url == "~/.cache/mlops-levels/template"
    assert source.path == tmp_path / ".cache" / "mlops-levels" / "template"


def _files(project: Path) -> set[str]:
    return {
        str(path.relative_to(project))
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(project).parts
    }


def test_installed_wheel_generates_the_same_project_outside_the_checkout(tmp_path):
    subprocess.run(
        ["uv", "build", "--wheel", "--out-dir", str(tmp_path / "dist"), str(REPO)],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp_path / "dist").glob("*.whl"))
    (tmp_path / "elsewhere").mkdir()

    result = subprocess.run(
        [
            "uv",
            "run",
            "--no-project",
            "--with",
            str(wheel),
            "--",
            "mlops-levels",
            "new",
            "churn",
            "--level",
            "1",
            "--defaults",
        ],
        cwd=tmp_path / "elsewhere",
        capture_output=True,
        text=True,
        check=False,
    )
    assert main(["new", str(tmp_path / "churn"), "--level", "1", "--defaults"]) == 0

    assert result.returncode == 0, result.stderr
    assert _files(tmp_path / "elsewhere" / "churn") == _files(tmp_path / "churn")


def test_module_entry_point_prints_help():
    result = subprocess.run(
        [sys.executable, "-m", "mlops_levels", "--help"], capture_output=True, text=True, check=True
    )

    assert "new" in result.stdout and "levels" in result.stdout and "exit codes" in result.stdout
