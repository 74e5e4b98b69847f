"""Generated projects as the comparisons need them: made by the CLI, installed by uv."""

from __future__ import annotations

from pathlib import Path

import yaml

from benchmarks.harness import Command, CommandFailed, Context, run_checked

# How every comparison installs a generated project: see `install`.
SYNC = ("uv", "sync", "--compile-bytecode", "--quiet")


def new_project(context: Context, dest: Path, level: int) -> Path:
    """Generate a project at `level` with every default, as `mlops-levels new` does for users."""
    mlops_levels = context.scripts / "mlops-levels"
    argv = [mlops_levels, "new", dest, "--level", str(level), "--defaults"]
    run_checked(Command(argv, dest.parent, context.env))
    return dest


def package_name(project: Path) -> str:
    """The import name of a generated project's package, from its answers file."""
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    return str(answers["package_name"])


def install(context: Context, project: Path) -> Path:
    """Install a generated project, bytecode compiled, and return its Python.

    uv compiles bytecode only when asked, and this machine sets PYTHONDONTWRITEBYTECODE,
    so without `--compile-bytecode` every timed run would compile every module anew.
    Offline first, so that a warm uv cache means nothing is downloaded; only a cold
    cache falls back to the index, once, during setup.
    """
    sync = list(SYNC)
    try:
        run_checked(Command([*sync, "--offline"], project, context.env))
    except CommandFailed:
        context.notes.append(
            f"uv's cache lacked packages for {project.name}: downloaded them during setup "
            "(untimed)."
        )
        run_checked(Command(sync, project, context.env))
    return project / ".venv" / "bin" / "python"
