"""Tier 1: every level renders, with exactly its files, all of them well-formed."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.helpers import LADDER, LEVELS

PACKAGE = "churn_model"  # what the project name "Churn Model" yields

# What each level adds to the one below it.
ADDED_FILES: dict[int, set[str]] = {
    0: {
        ".copier-answers.yml",
        ".gitignore",
        ".python-version",
        "LICENSE",
        "MATURITY.md",
        "README.md",
        "data/processed/.gitkeep",
        "data/raw/.gitkeep",
        "data/raw/breast_cancer.csv",
        "models/.gitkeep",
        "notebooks/01-explore.ipynb",
        "notebooks/02-train.ipynb",
        "params.yaml",
        "pyproject.toml",
        "reports/figures/.gitkeep",
    },
    1: {
        ".dvc/.gitignore",
        ".dvc/cache/files/md5/32/096955c9f591d27949f89afa851998",
        ".dvc/config",
        ".dvcignore",
        "data/raw/breast_cancer.csv.dvc",
        *(
            f"src/{PACKAGE}/{module}.py"
            for module in (
                "__init__",
                "__main__",
                "config",
                "data",
                "evaluate",
                "features",
                "tracking",
                "train",
            )
        ),
    },
    2: set(),
    3: set(),
    4: set(),
}

UNRENDERED = re.compile(r"(?<!\$)\{\{|\{%|\{#")


def expected_files(level: int) -> set[str]:
    return set().union(*(ADDED_FILES[n] for n in range(level + 1)))


def project_files(project: Path) -> list[Path]:
    return sorted(path for path in project.rglob("*") if path.is_file())


def test_added_files_cover_every_level_of_the_ladder():
    assert sorted(ADDED_FILES) == LEVELS


@pytest.mark.parametrize("level", LEVELS)
def test_render_has_exactly_the_files_of_its_level(render, level):
    project = render(level)

    files = {str(path.relative_to(project)) for path in project_files(project)}

    assert files == expected_files(level)


@pytest.mark.parametrize("level", LEVELS)
def test_render_leaves_no_template_syntax(render, level):
    project = render(level)

    leftovers = [
        str(path.relative_to(project))
        for path in project_files(project)
        if path.suffix not in {".csv"} and UNRENDERED.search(path.read_text(encoding="utf-8"))
    ]

    assert leftovers == []


@pytest.mark.parametrize("level", LEVELS)
def test_render_has_only_well_formed_toml_yaml_json_and_python(render, level):
    project = render(level)

    for path in project_files(project):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix in {".yml", ".yaml"} or path.name == ".copier-answers.yml":
            list(yaml.safe_load_all(text))
        elif path.suffix in {".json", ".ipynb"}:
            json.loads(text)
        elif path.suffix == ".py":
            ast.parse(text, filename=str(path))


@pytest.mark.parametrize("level", LEVELS)
def test_render_passes_ruff_lint_and_format(render, level):
    project = render(level)

    for command in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "."],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("level", LEVELS)
def test_maturity_md_is_rendered_from_the_levels_data(render, level):
    maturity = (render(level) / "MATURITY.md").read_text()

    here = LADDER[level]
    assert maturity.startswith(f"# MLOps maturity: level {level} - {here['name']}\n")
    for step in LADDER[: level + 1]:
        for criterion in step["criteria"]:
            assert f"- [x] {criterion['sentence']} (`{criterion['id']}`)" in maturity
    if level + 1 < len(LADDER):
        for criterion in LADDER[level + 1]["criteria"]:
            assert f"- [ ] {criterion['sentence']} (`{criterion['id']}`)" in maturity
        assert f"copier update --defaults --vcs-ref :current: --data level={level + 1}" in maturity


@pytest.mark.parametrize("license", ["MIT", "Apache-2.0", "BSD-3-Clause"])
def test_open_source_license_has_its_text_and_the_author(render, license):
    project = render(0, license=license, author_name="Ada Lovelace")

    text = (project / "LICENSE").read_text()
    assert "Ada Lovelace" in text
    assert tomllib.loads((project / "pyproject.toml").read_text())["project"]["license"] == license


def test_proprietary_project_has_no_license_file(render):
    project = render(0, license="Proprietary")

    assert not (project / "LICENSE").exists()
    assert "Private :: Do Not Upload" in (project / "pyproject.toml").read_text()


@pytest.mark.parametrize("python_version", ["3.12", "3.13"])
def test_python_version_sets_the_interpreter_and_ruff_target(render, python_version):
    project = render(1, python_version=python_version)

    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert (project / ".python-version").read_text().strip() == python_version
    assert pyproject["project"]["requires-python"] == f">={python_version}"
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + python_version.replace(".", "")


def test_answers_file_records_the_questions_and_no_computed_value(render):
    answers = yaml.safe_load((render(1) / ".copier-answers.yml").read_text())

    assert set(answers) - {"_commit", "_src_path"} == {
        "project_name",
        "package_name",
        "description",
        "author_name",
        "author_email",
        "python_version",
        "license",
        "level",
    }
