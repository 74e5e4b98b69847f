"""Shared fixtures."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import commit_all, run, template_snapshot


def pytest_configure(config: pytest.Config) -> None:
    # pytest-copie's `copie` fixtures render the `--template` folder: the snapshot.
    config.option.template = str(template_snapshot())


# The `team_stack` fixture: PostgreSQL, S3 and MLflow's server, for any test module.
pytest_plugins = ["tests.team_stack"]


@pytest.fixture(scope="session", autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the CLI's template cache out of the user's home."""
    saved = dict(os.environ)
    os.environ["MLOPS_LEVELS_HOME"] = str(tmp_path_factory.mktemp("mlops-levels-home"))
    # Generated projects get their own virtual environments, never this one.
    os.environ.pop("VIRTUAL_ENV", None)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def render(copie_session):
    """Render the template once per set of answers for the whole session."""
    cache: dict[tuple, Path] = {}

    def _render(level: int, **answers: str) -> Path:
        key = (level, *sorted(answers.items()))
        if key not in cache:
            result = copie_session.copy(
                extra_answers={"project_name": "Churn Model", "level": level, **answers}
            )
            assert result.exception is None, result.exception
            cache[key] = result.project_dir
        return cache[key]

    return _render


@pytest.fixture(scope="session")
def installed(render, tmp_path_factory):
    """A committed, `uv sync`ed copy of a render, made once per set of answers.

    Every project installs from the one shared uv cache. Bytecode is compiled
    at install because this machine's PYTHONDONTWRITEBYTECODE would otherwise
    make every Python process recompile MLflow and scikit-learn.
    """
    projects: dict[tuple, Path] = {}

    def _installed(level: int, **answers: str) -> Path:
        key = (level, *sorted(answers.items()))
        if key not in projects:
            name = "-".join([f"level-{level}", *answers.values()])
            project = tmp_path_factory.mktemp(name) / "churn-model"
            shutil.copytree(render(level, **answers), project)
            commit_all(project)
            run(project, "uv", "sync", "--compile-bytecode", "--quiet")
            projects[key] = project
        return projects[key]

    return _installed


# --- Test tiers: each module's marker ------------------------------------------------
# `uv run pytest -m render` (or project, upgrade, cli, benchmarks) runs one tier;
# pyproject.toml registers the markers and says what each tier holds. A module
# missing here stops the collection, so that every new test file gets a tier.
TIERS = {
    "render": [
        "test_answers",
        "test_hostile_answers",
        "test_k8s",
        "test_level_4_automation",
        "test_render",
        "test_reserved_names",
        "test_security_container",
        "test_security_md",
        "test_security_secrets",
        "test_security_service",
        "test_security_workflows",
    ],
    "project": [
        "test_first_push",
        "test_kubeflow",
        "test_level_2",
        "test_level_3",
        "test_level_4",
        "test_level_4_demo",
        "test_model_swap",
        "test_own_data",
        "test_readme_commands",
        "test_run",
        "test_service_faults",
        "test_service_startup",
        "test_set_up",
        "test_team_stack",
    ],
    "upgrade": ["test_upgrade", "test_upgrade_across_releases"],
    "cli": [
        "test_assess",
        "test_assess_corpus",
        "test_assess_hostile_trees",
        "test_assess_projects",
        "test_assess_rules",
        "test_cli",
        "test_diff",
        "test_hostile_files",
        "test_template_cache",
    ],
    "benchmarks": ["test_benchmarks"],
}
TIER_OF = {module: tier for tier, modules in TIERS.items() for module in modules}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.stem
        if module not in TIER_OF:
            raise pytest.UsageError(
                f"{item.path} has no test tier: add {module!r} to TIERS in tests/conftest.py"
            )
        item.add_marker(TIER_OF[module])
