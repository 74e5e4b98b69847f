"""Tier 1: the security baseline of the container, read from the render.

The Dockerfile (non-root, no secrets in layers) and its build context.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.security import PACKAGE, SERVING, is_secret, secret_names

# --- The container -------------------------------------------------------------------


def dockerfile(root: Path) -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, without comments."""
    instructions, current = [], ""
    for line in (root / "Dockerfile").read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            keyword, _, rest = current.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
            current = ""
    return instructions


def env_names(rest: str) -> list[str]:
    """The variables an ENV instruction sets: `A=1 B=2`, or the old `A 1` form."""
    words = shlex.split(rest)
    if words and "=" not in words[0]:
        return [words[0]]
    return [word.partition("=")[0] for word in words]


@pytest.mark.parametrize("level", SERVING)
def test_container_runs_as_a_user_without_privileges(render, level):
    instructions = dockerfile(render(level))
    final_stage = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    runtime = instructions[final_stage:]

    users = [rest for keyword, rest in runtime if keyword == "USER"]
    cmd = next(i for i, (keyword, _) in enumerate(runtime) if keyword == "CMD")
    assert users, "the image runs as root"
    assert all(i < cmd for i, (keyword, _) in enumerate(runtime) if keyword == "USER")
    assert users[-1].split(":")[0] not in {"root", "0"}


@pytest.mark.parametrize("level", SERVING)
def test_no_secret_is_baked_into_an_image_layer(render, level):
    names = secret_names(render, level)
    for keyword, rest in dockerfile(render(level)):
        if keyword == "ENV":
            variables = env_names(rest)
        elif keyword == "ARG":
            variables = [rest.partition("=")[0]]
        else:
            continue
        for variable in variables:
            assert not is_secret(variable) and variable not in names, (keyword, rest)


def docker_ignored(patterns: list[str], path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context: the last pattern
    that matches it or a folder above it decides, as Docker's matcher does."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.lstrip("!").strip("/")
        regex = re.escape(body).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
        regex = regex.replace(r"\?", "[^/]").replace(r"\[", "[").replace(r"\]", "]")
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            ignored = not negated
    return ignored


@pytest.mark.parametrize("level", SERVING)
def test_build_context_keeps_out_secrets_data_models_and_the_mlflow_store(render, level):
    root = render(level)
    lines = (root / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    kept_out = [
        ".env",
        ".env.production",
        ".git/config",
        ".venv/bin/python",
        "mlflow.db",
        "mlartifacts/1/model/model.skops",
        "data/raw/breast_cancer.csv",
        "data/predictions.db",
        "models/model.skops",
    ]
    let_in = ["pyproject.toml", "uv.lock", "params.yaml", f"src/{PACKAGE}/service.py"]

    assert [path for path in kept_out if not docker_ignored(patterns, path)] == []
    assert [path for path in let_in if docker_ignored(patterns, path)] == []
