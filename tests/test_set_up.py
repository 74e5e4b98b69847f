"""The README's set-up, followed as a newcomer does on a fresh machine.

The set-up block scaffolds a project outside the clone and runs the tests;
`uv tool install` puts the CLI (and Copier) on PATH, and then every command that a
generated project prints (MATURITY.md) runs there as printed, with the tree
still clean after the `uv sync` that the project's README starts with.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO, copy_payload, git

README = (REPO / "README.md").read_text(encoding="utf-8")


def console_blocks(markdown: str) -> list[list[str]]:
    """The command lines of each ```console block, comments and blanks left out."""
    blocks = re.findall(r"```console\n(.*?)```", markdown, flags=re.DOTALL)
    return [
        [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
        for block in blocks
    ]


def set_up_block() -> list[str]:
    section = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return console_blocks(section)[0]


def test_readme_set_up_is_two_commands_scaffold_outside_the_clone_then_the_tests():
    scaffold, tests = set_up_block()

    assert scaffold.startswith("uv run mlops-levels new ../")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert f"{tests} " in ci or f"{tests}\n" in ci, ".ci/run runs the README's test command"


@pytest.fixture
def newcomer(tmp_path) -> dict[str, str]:
    """A fresh HOME with uv's tool folders in it, and the shared uv cache."""
    home = tmp_path / "home"
    home.mkdir()
    bin_dir = home / ".local" / "bin"
    environment = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    cache = subprocess.run(
        ["uv", "cache", "dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return environment | {
        "HOME": str(home),
        "UV_CACHE_DIR": cache,
        "UV_TOOL_DIR": str(home / ".local" / "share" / "uv" / "tools"),
        "UV_TOOL_BIN_DIR": str(bin_dir),
        "PATH": f"{bin_dir}{os.pathsep}{environment['PATH']}",
        "MLOPS_LEVELS_HOME": str(home / ".cache" / "mlops-levels"),
    }


def clone(tmp_path: Path) -> Path:
    """What a clone holds that the CLI is built from: the template and the package."""
    checkout = copy_payload(tmp_path / "mlops-levels")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, checkout / name)
    shutil.copytree(REPO / "src", checkout / "src", ignore=shutil.ignore_patterns("__pycache__"))
    return checkout


def sh(command: str, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stderr}"
    return result.stdout


@pytest.mark.slow
def test_commands_a_project_prints_run_as_printed_once_the_cli_is_installed(tmp_path, newcomer):
    checkout = clone(tmp_path)
    [install] = next(b for b in console_blocks(README) if b[0].startswith("uv tool install"))
    scaffold = set_up_block()[0]
    sh(install, checkout, newcomer)
    sh(f"{scaffold} --defaults", checkout, newcomer)
    project = (checkout / scaffold.split()[4]).resolve()
    # The project's README starts with `uv sync`: with the committed lock it changes nothing.
    sh("uv sync --quiet", project, newcomer)
    assert git(project, "status", "--porcelain") == ""

    printed = console_blocks((project / "MATURITY.md").read_text(encoding="utf-8"))
    commands = [line for block in printed for line in block]
    assert commands == [
        "mlops-levels diff 1 2 --project .",
        "mlops-levels upgrade",
        "copier update --defaults --vcs-ref :current: --data level=2",
    ]
    # The last is the same step by plain Copier, which the install put on PATH too.
    sh(commands[0], project, newcomer)
    sh(commands[1], project, newcomer)
    assert sh("copier --version", project, newcomer).startswith("copier ")

    assert git(project, "log", "-1", "--format=%s") == "Upgrade to level 2 (Automated)\n"
    assert "uv.lock" in git(project, "show", "--name-only", "--format=", "HEAD").split()
    sh("uv sync --quiet", project, newcomer)
    assert git(project, "status", "--porcelain") == "", "the step's lock is what uv sync wants"
