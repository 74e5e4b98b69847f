"""Upgrade: the wall time of each one-level step, on a freshly generated project.

Each sample generates a project at the lower level (untimed) and times the step:
`mlops-levels upgrade` when this version of the CLI has it, and always the plain
`copier update` that the step amounts to, so the CLI's own share shows as a ratio.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from benchmarks.harness import (
    Case,
    Command,
    Comparison,
    Context,
    Results,
    Target,
    ratio,
)
from benchmarks.projects import new_project
from mlops_levels.ladder import load_ladder

# The target for every one-level step.
TARGET_SECONDS = 2.0


def ours(level: int) -> str:
    return f"mlops-levels upgrade: level {level} -> {level + 1}"


def copier(level: int) -> str:
    return f"copier update: level {level} -> {level + 1}"


def has_upgrade_command() -> bool:
    return importlib.util.find_spec("mlops_levels.commands.upgrade") is not None


def steps() -> list[int]:
    """The levels an upgrade starts from: every one but the top."""
    return [entry["level"] for entry in load_ladder()][:-1]


def setup(context: Context) -> list[Case]:
    if not has_upgrade_command():
        context.notes.append("this mlops-levels has no `upgrade` command: timed copier alone.")
    cases = []
    for level in steps():
        if has_upgrade_command():
            cases.append(Case.command(ours(level), _upgrade(context, level)))
        cases.append(Case.command(copier(level), _copier_update(context, level)))
    return cases


def _upgrade(context: Context, level: int) -> Callable[[Path], Command]:
    def prepare(folder: Path) -> Command:
        project = new_project(context, folder / "my-project", level)
        argv = [context.scripts / "mlops-levels", "upgrade", project, "--yes"]
        return Command(argv, folder, context.env)

    return prepare


def _copier_update(context: Context, level: int) -> Callable[[Path], Command]:
    def prepare(folder: Path) -> Command:
        project = new_project(context, folder / "my-project", level)
        argv = [context.scripts / "copier", "update", "--defaults", "--vcs-ref", ":current:"]
        return Command([*argv, "--data", f"level={level + 1}"], project, context.env)

    return prepare


def ratios(results: Results) -> dict[str, tuple[float, str]]:
    found = {}
    for level in steps():
        value = ratio(results.get(ours(level)), results.get(copier(level)))
        if value is not None:
            found[ours(level)] = (value, "vs copier update")
    return found


def targets(results: Results) -> list[Target]:
    found = []
    for level in steps():
        name = ours(level) if has_upgrade_command() else copier(level)
        goal = f"`{name}` at most {TARGET_SECONDS:.0f} s"
        result = results.get(name)
        if result is None or result.median is None:
            found.append(Target(goal, "not measured", None))
        else:
            found.append(Target(goal, f"{result.median:.2f} s", result.median <= TARGET_SECONDS))
    return found


COMPARISON = Comparison(
    name="upgrade",
    title="One-level upgrade steps",
    setup=setup,
    targets=targets,
    ratios=ratios,
)
