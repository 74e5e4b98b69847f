"""Tier 1: what stays out of git, read from the render.

Git's ignore rules, and `.env.example`: every variable the project reads,
placeholders only.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers import LEVELS
from tests.security import (
    MONITORING,
    PACKAGE,
    PIPELINE,
    SERVING,
    TRACKING,
    project,
    secret_names,
)

# --- Git's ignore rules and .env.example ---------------------------------------------


def git_ignored(root: Path, paths: list[str], tmp_path: Path) -> dict[str, bool]:
    """Whether git would ignore each path under the project's .gitignore."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "--quiet", str(repo)], check=True)
    (repo / ".gitignore").write_bytes((root / ".gitignore").read_bytes())
    result = subprocess.run(
        ["git", "-C", str(repo), "check-ignore", "--verbose", "--non-matching", "--stdin"],
        input="\n".join(paths) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    answers = {}
    for line in result.stdout.splitlines():
        source, _, path = line.partition("\t")
        pattern = source.split(":", 2)[-1]
        answers[path] = bool(pattern) and not pattern.startswith("!")
    return answers


def kept_out_of_git(level: int) -> list[str]:
    paths = [
        ".env",
        ".env.local",
        "data/raw/customers.csv",
        "data/processed/train.csv",
        "models/model.skops",
        "mlflow.db",
        "mlartifacts/1/abc/artifacts/model.skops",
        "reports/figures/class_balance.png",
    ]
    if level in TRACKING:
        paths += [".dvc/cache/files/md5/00/11", ".dvc-storage/files/md5/00/11"]
    if level in SERVING:
        paths += ["reports/registry/promotion.json"]
    if level in MONITORING:
        paths += [
            "data/predictions.db",
            "data/predictions.db-wal",
            "data/labels.csv",
            "reports/monitoring/drift.html",
            "reports/retraining/decision.json",
        ]
    return paths


def kept_in_git(level: int) -> list[str]:
    paths = ["params.yaml", "data/raw/.gitkeep"]
    if level in TRACKING:
        paths += [".env.example", "data/raw/breast_cancer.csv.dvc"]
    if level in PIPELINE:
        # The pipeline's record, compared by DVC, and the run it logged.
        paths += ["dvc.lock", "reports/metrics.json", "reports/evaluate_run.json"]
    return paths


@pytest.mark.parametrize("level", LEVELS)
def test_gitignore_keeps_out_secrets_data_models_stores_and_written_reports(
    render, level, tmp_path
):
    out, kept = kept_out_of_git(level), kept_in_git(level)

    ignored = git_ignored(render(level), out + kept, tmp_path)

    assert [path for path in out if not ignored[path]] == []
    assert [path for path in kept if ignored[path]] == []


ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
PLACEHOLDER_HOSTS = re.compile(r"^(.+\.)?example\.(org|com|net)$|^localhost$|^127\.0\.0\.1$")


def env_example(root: Path) -> dict[str, tuple[bool, str]]:
    """The variables of .env.example: whether each is commented out, and its value."""
    found = {}
    for line in (root / ".env.example").read_text().splitlines():
        match = ASSIGNMENT.match(line)
        if match:
            found[match[2]] = (match[1] is not None, match[3])
    return found


def is_placeholder(value: str) -> bool:
    """Empty, a port, a loopback address, or a URL on an example or loopback host."""
    if value in {"", "127.0.0.1", "0.0.0.0"} or value.isdigit():
        return True
    url = urlsplit(value)
    return bool(url.scheme and url.hostname and PLACEHOLDER_HOSTS.match(url.hostname))


def module_constants(source: Path) -> dict[str, str]:
    """Every module-level `NAME = "text"` of the package: the names of variables."""
    constants = {}
    for module in source.rglob("*.py"):
        for node in ast.parse(module.read_text()).body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                        constants[target.id] = node.value.value
    return constants


def variables_read(root: Path) -> set[str]:
    """The environment variables the package reads: os.environ.get, os.getenv, os.environ[]."""
    source = root / "src" / PACKAGE
    constants = module_constants(source)
    read = set()
    for module in source.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            argument = None
            if isinstance(node, ast.Call) and ast.unparse(node.func) in {
                "os.environ.get",
                "os.getenv",
            }:
                argument = node.args[0]
            elif (
                isinstance(node, ast.Subscript)
                and isinstance(node.ctx, ast.Load)
                and ast.unparse(node.value) == "os.environ"
            ):
                argument = node.slice
            if isinstance(argument, ast.Constant):
                read.add(argument.value)
            elif isinstance(argument, ast.Name) and argument.id in constants:
                read.add(constants[argument.id])
    return read


@pytest.mark.parametrize("level", LEVELS)
def test_env_example_exists_from_the_first_level_that_reads_secrets(render, level):
    assert (render(level) / ".env.example").exists() == (level in TRACKING)


# Each level with .env.example, with each CI provider from the level that asks for one.
ENV_VARIANTS = [(level, "github") for level in TRACKING] + [
    (level, provider) for level in PIPELINE for provider in ("gitlab", "none")
]


@pytest.mark.parametrize(("level", "provider"), ENV_VARIANTS)
def test_env_example_names_every_variable_the_project_reads(render, level, provider):
    root = project(render, level, provider)
    expected = variables_read(root) | {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"}
    if level not in SERVING:
        # cli.py declares the options of `serve` at every level; the command, and
        # the variables that set its defaults, come with serving/ at level 3.
        expected -= {"SERVING_HOST", "SERVING_PORT"}
    if provider != "none":
        expected |= secret_names(render, level)

    assert "MLFLOW_TRACKING_URI" in variables_read(root)
    assert expected - env_example(root).keys() == set()


@pytest.mark.parametrize("level", TRACKING)
def test_env_example_has_placeholders_only_and_sets_nothing_as_it_stands(render, level):
    variables = env_example(render(level))

    assert variables
    for name, (commented, value) in variables.items():
        assert is_placeholder(value), (name, value)
        # Loaded unedited it sets nothing: an empty SERVING_HOST would make the
        # service listen on every address, and an empty SERVING_PORT stop it.
        assert commented, name
