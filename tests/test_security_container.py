"""Tier 1: the security baseline of the container, read from the render.

The Dockerfile (a numeric non-root user, images pinned by digest, no secrets in
layers, hadolint clean at its lowest threshold) and its build context.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

from tests.helpers import run
from tests.security import PACKAGE, SERVING, is_secret, secret_names

HADOLINT = Path(sys.executable).parent / "hadolint"
PYTHON_VERSIONS = ["3.11", "3.12", "3.13"]  # copier.yml's choices

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
    # Numbers, which Kubernetes' runAsNonRoot can check without the image's
    # /etc/passwd; the user is created with them.
    uid, gid = re.fullmatch(r"(\d+):(\d+)", users[-1]).groups()
    assert int(uid) > 0 and int(gid) > 0
    created = " ".join(rest for keyword, rest in runtime if keyword == "RUN")
    assert f"--uid {uid}" in created and f"--gid {gid}" in created


def image_references(instructions: list[tuple[str, str]]) -> list[str]:
    """Every image the build pulls: each stage's base and each COPY --from image."""
    stages = {rest.split()[-1] for keyword, rest in instructions if keyword == "FROM"}
    found = [rest.split()[0] for keyword, rest in instructions if keyword == "FROM"]
    for keyword, rest in instructions:
        source = re.match(r"--from=(\S+)", rest) if keyword == "COPY" else None
        if source and source[1] not in stages:
            found.append(source[1])
    return found


@pytest.mark.parametrize("python_version", PYTHON_VERSIONS)
def test_every_image_is_pinned_by_digest_with_its_tag_in_a_comment(render, python_version):
    root = render(3, python_version=python_version)
    text = (root / "Dockerfile").read_text()
    images = image_references(dockerfile(root))

    assert len(images) == 3  # the build stage, uv's binary, the runtime stage
    for image in images:
        name, _, digest = image.partition("@")
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), image
        assert re.search(rf"^#.*{re.escape(name)}\b", text, re.MULTILINE), image
    python = [image for image in images if image.startswith("python:")]
    # Build and runtime stages on the same Python, the one the project runs on.
    assert len(python) == 2 and len(set(python)) == 1
    assert python[0].startswith(f"python:{python_version}.")


@pytest.mark.parametrize("level", SERVING)
def test_dockerfile_passes_hadolint_at_its_lowest_threshold(render, level):
    run(render(level), str(HADOLINT), "--failure-threshold", "info", "Dockerfile")


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
    let_in = ["pyproject.toml", "uv.lock", "params.yaml", f"src/{PACKAGE}/serving/app.py"]

    assert [path for path in kept_out if not docker_ignored(patterns, path)] == []
    assert [path for path in let_in if docker_ignored(patterns, path)] == []
