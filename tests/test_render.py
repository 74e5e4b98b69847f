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
from copier import run_copy

from tests.helpers import LADDER, LEVELS, REPO, copy_payload, first_level

PACKAGE = "churn_model"  # what the project name "Churn Model" yields
# A folder or file name gated by a capability flag, e.g. "{% if has_serving %}serving{% endif %}".
GATE = re.compile(r"\{% if \w+ %\}(.*)\{% endif %\}")

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
        ".env.example",
        "data/raw/breast_cancer.csv.dvc",
        "notebooks/03-train-with-the-package.ipynb",
        *(
            f"src/{PACKAGE}/{module}.py"
            for module in (
                "__init__",
                "__main__",
                "cli",
                "commands",
                "config",
                "data",
                "evaluate",
                "features",
                "tracking",
                "train",
            )
        ),
    },
    2: {
        ".github/workflows/ci.yml",  # the default CI provider, GitHub Actions
        ".pre-commit-config.yaml",
        "SECURITY.md",
        "dvc.yaml",
        *(
            f"src/{PACKAGE}/pipeline/{module}.py"
            for module in ("__init__", "sample", "schema", "stages")
        ),
        *(
            f"tests/{module}.py"
            for module in (
                "conftest",
                "test_cli",
                "test_config",
                "test_data",
                "test_features",
                "pipeline/test_plots",
                "pipeline/test_sample",
                "pipeline/test_schema",
                "pipeline/test_stages",
                "test_train",
            )
        ),
    },
    3: {
        ".github/workflows/cd.yml",  # CD for the default CI provider
        ".dockerignore",
        "Dockerfile",
        "compose.yaml",
        "deploy/k8s/release.sh",
        *(
            f"deploy/k8s/base/{name}"
            for name in (
                "autoscaler.yaml",
                "disruption-budget.yaml",
                "kustomization.yaml",
                "service.yaml",
                "serving.yaml",
                "settings.env",
            )
        ),
        *(
            f"deploy/k8s/overlays/{overlay}/{name}"
            for overlay in ("staging", "production")
            for name in ("kustomization.yaml", "size.yaml")
        ),
        "deploy/k8s/overlays/production/resources.yaml",
        *(
            f"src/{PACKAGE}/serving/{module}.py"
            for module in (
                "__init__",
                "app",
                "inputs",
                "limits",
                "loader",
                "metrics",
                "middleware",
                "model",
                "registry",
                "schemas",
                "scorer",
                "server",
            )
        ),
        *(
            f"tests/serving/test_{module}.py"
            for module in ("app", "limits", "registry", "scorer", "server")
        ),
    },
    4: {
        ".github/workflows/monitor.yml",  # scheduled runs for the default provider
        ".github/workflows/retrain.yml",
        "deploy/k8s/base/monitor.yaml",
        "deploy/k8s/base/retrain.yaml",
        "docs/runbook.md",
        *(f"src/{PACKAGE}/demo/{module}.py" for module in ("__init__", "loop", "traffic")),
        *(
            f"src/{PACKAGE}/monitoring/{module}.py"
            for module in (
                "__init__",
                "drift",
                "hot_swap",
                "lock",
                "log_file",
                "monitor",
                "predictions",
                "recording",
                "retrain",
                "rollback",
                "traffic",
            )
        ),
        *(
            f"tests/monitoring/{module}.py"
            for module in ("test_hot_swap", "test_monitor", "test_predictions", "test_retrain")
        ),
    },
}

# The CI files of each provider; the levels that ask for one have those of the chosen one.
CI_FILES = {
    "github": {".github/workflows/ci.yml"},
    "gitlab": {".gitlab-ci.yml"},
    "none": set(),
}
CI_LEVELS = [level for level in LEVELS if level >= first_level("ci_provider")]
# GitHub's CD workflow, from level 3 on; GitLab's CD jobs are in .gitlab-ci.yml.
CD_FILES = {"github": {".github/workflows/cd.yml"}, "gitlab": set(), "none": set()}
CD_LEVELS = [level for level in LEVELS if level >= 3]
# GitHub's scheduled workflows, from level 4 on; GitLab's are jobs in .gitlab-ci.yml.
SCHEDULE_FILES = {
    "github": {".github/workflows/monitor.yml", ".github/workflows/retrain.yml"},
    "gitlab": set(),
    "none": set(),
}
SCHEDULE_LEVELS = [level for level in LEVELS if level >= 4]
# The files of each orchestrator, from the level that asks which one runs the pipeline.
ORCHESTRATOR_FILES = {
    "dvc": set(),
    "kubeflow": {
        "pipeline.yaml",
        f"src/{PACKAGE}/pipeline/kubeflow.py",
        "tests/pipeline/test_kubeflow.py",
    },
}
ORCHESTRATOR_LEVELS = [level for level in LEVELS if level >= first_level("orchestrator")]

# Renders whose every file is checked: each level with the default answers, and
# each level with CI with each other CI provider, and with each other orchestrator.
VARIANTS = (
    [(level, {}) for level in LEVELS]
    + [(level, {"ci_provider": provider}) for level in CI_LEVELS for provider in ("gitlab", "none")]
    + [(level, {"orchestrator": "kubeflow"}) for level in ORCHESTRATOR_LEVELS]
)
VARIANT_IDS = ["-".join([str(level), *answers.values()]) for level, answers in VARIANTS]

# `${{` is GitHub's expression syntax and `{{$` KFP's placeholders (pipeline.yaml).
UNRENDERED = re.compile(r"(?<!\$)\{\{(?!\$)|\{%|\{#")


def expected_files(level: int, ci_provider: str = "github", orchestrator: str = "dvc") -> set[str]:
    files = set().union(*(ADDED_FILES[n] for n in range(level + 1)))
    if level in ORCHESTRATOR_LEVELS:
        files |= ORCHESTRATOR_FILES[orchestrator]
    if level in CI_LEVELS:
        files = files - CI_FILES["github"] | CI_FILES[ci_provider]
    if level in CD_LEVELS:
        files = files - CD_FILES["github"] | CD_FILES[ci_provider]
    if level in SCHEDULE_LEVELS:
        files = files - SCHEDULE_FILES["github"] | SCHEDULE_FILES[ci_provider]
    return files


def project_files(project: Path) -> list[Path]:
    return sorted(path for path in project.rglob("*") if path.is_file())


def test_added_files_cover_every_level_of_the_ladder():
    assert sorted(ADDED_FILES) == LEVELS


@pytest.mark.parametrize("level", LEVELS)
def test_render_has_exactly_the_files_of_its_level(render, level):
    project = render(level)

    files = {str(path.relative_to(project)) for path in project_files(project)}

    assert files == expected_files(level)


@pytest.mark.parametrize("ci_provider", ["gitlab", "none"])
@pytest.mark.parametrize("level", CI_LEVELS)
def test_ci_provider_decides_the_ci_files(render, level, ci_provider):
    project = render(level, ci_provider=ci_provider)

    files = {str(path.relative_to(project)) for path in project_files(project)}

    assert files == expected_files(level, ci_provider)


@pytest.mark.parametrize("level", ORCHESTRATOR_LEVELS)
def test_orchestrator_decides_the_pipeline_files(render, level):
    project = render(level, orchestrator="kubeflow")

    files = {str(path.relative_to(project)) for path in project_files(project)}

    assert files == expected_files(level, orchestrator="kubeflow")


def test_orchestrator_adds_nothing_below_level_2(render):
    project = render(1, orchestrator="kubeflow")

    files = {str(path.relative_to(project)) for path in project_files(project)}

    assert files == expected_files(1)


@pytest.mark.parametrize("level", [level for level in LEVELS if level not in CI_LEVELS])
def test_ci_provider_adds_nothing_below_level_2(render, level):
    project = render(level, ci_provider="gitlab")

    files = {str(path.relative_to(project)) for path in project_files(project)}

    assert files == expected_files(level)


@pytest.mark.parametrize(("level", "answers"), VARIANTS, ids=VARIANT_IDS)
def test_render_leaves_no_template_syntax(render, level, answers):
    project = render(level, **answers)

    leftovers = [
        str(path.relative_to(project))
        for path in project_files(project)
        if path.suffix not in {".csv"} and UNRENDERED.search(path.read_text(encoding="utf-8"))
    ]

    assert leftovers == []


@pytest.mark.parametrize(("level", "answers"), VARIANTS, ids=VARIANT_IDS)
def test_render_has_only_well_formed_toml_yaml_json_and_python(render, level, answers):
    project = render(level, **answers)

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


@pytest.mark.parametrize(("level", "answers"), VARIANTS, ids=VARIANT_IDS)
def test_render_passes_ruff_lint_and_format(render, level, answers):
    project = render(level, **answers)

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
            # What no file can show is a question for the team, left open.
            box = "[ ]" if "question" in criterion else "[x]"
            assert f"- {box} {criterion['sentence']} (`{criterion['id']}`)" in maturity
    if level + 1 < len(LADDER):
        for criterion in LADDER[level + 1]["criteria"]:
            assert f"- [ ] {criterion['sentence']} (`{criterion['id']}`)" in maturity
        assert f"copier update --defaults --vcs-ref :current: --data level={level + 1}" in maturity


def test_maturity_md_leaves_ci_open_for_a_project_without_ci(render):
    maturity = (render(2, ci_provider="none") / "MATURITY.md").read_text()

    [ci] = [c for c in LADDER[2]["criteria"] if c["id"] == "L2-ci"]
    assert f"- [ ] {ci['sentence']} (`L2-ci`)" in maturity
    assert "copier update --defaults --vcs-ref :current: --data ci_provider=github" in maturity
    for criterion in LADDER[2]["criteria"]:
        if criterion is not ci:
            assert f"- [x] {criterion['sentence']}" in maturity


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


def test_answers_file_records_the_ci_provider_from_level_2_on(render):
    answers = yaml.safe_load((render(2, ci_provider="gitlab") / ".copier-answers.yml").read_text())

    assert answers["ci_provider"] == "gitlab"
    assert not {"has_pipeline", "has_github_ci", "has_gitlab_ci"} & set(answers)


def test_ladder_is_as_long_as_levels_holds_files(tmp_path):
    """copier.yml reads levels/level-0.yml, level-1.yml, ... up to the first missing number:
    a sixth file is a sixth level to choose, with nothing else to change."""
    template = copy_payload(tmp_path / "template")
    top = LADDER[-1]
    beyond = {**top, "level": top["level"] + 1, "name": "Beyond", "criteria": []}
    (template / "levels" / f"level-{beyond['level']}.yml").write_text(yaml.safe_dump(beyond))

    run_copy(
        str(template),
        tmp_path / "project",
        data={"project_name": "Churn Model", "level": beyond["level"]},
        defaults=True,
        quiet=True,
    )

    maturity = (tmp_path / "project" / "MATURITY.md").read_text()
    assert maturity.startswith(f"# MLOps maturity: level {beyond['level']} - Beyond\n")
    assert f"level {beyond['level']} of {beyond['level']}" in maturity


def test_every_module_of_the_generated_package_is_plain_python_in_the_template(render):
    """The package's modules are not templates: each file in template/ is the module itself,
    so it reads, lints and diffs as plain Python. A level's extra behaviour comes from the
    subpackages its folder names gate, never from Jinja inside a module."""
    # The orchestrator with a module of its own, so that every module is rendered.
    project = render(LEVELS[-1], orchestrator="kubeflow")
    source = REPO / "template" / "{% if has_tracking %}src{% endif %}" / "{{ package_name }}"
    modules = {}
    for path in source.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            parts = [GATE.sub(r"\1", part) for part in path.relative_to(source).parts]
            modules[Path(*parts).as_posix()] = path

    rendered = project / "src" / PACKAGE
    assert set(modules) == {
        path.relative_to(rendered).as_posix() for path in rendered.rglob("*") if path.is_file()
    }
    assert [name for name in modules if not name.endswith(".py")] == []
    for name, path in modules.items():
        assert (rendered / name).read_bytes() == path.read_bytes(), name
