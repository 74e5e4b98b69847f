"""Generated test suites: the wall time of each level's own `pytest`.

A level whose projects have no tests/ folder has nothing to run; it is reported
as such rather than timed.
"""

from __future__ import annotations

from benchmarks.harness import (
    Case,
    Command,
    CommandFailed,
    Comparison,
    Context,
    Results,
    Target,
)
from benchmarks.projects import install, new_project
from mlops_levels.ladder import load_ladder

# The target for the top level's suite.
TARGET_SECONDS = 30.0


def name(level: int) -> str:
    return f"level {level} `pytest`"


def setup(context: Context) -> list[Case]:
    cases = []
    for level in (entry["level"] for entry in load_ladder()):
        try:
            project = new_project(context, context.work / f"level-{level}", level)
            if not (project / "tests").is_dir():
                cases.append(Case.skip(name(level), "no tests at this level"))
                continue
            python = install(context, project)
        except CommandFailed as error:
            # One level that cannot be set up must not hide the others' numbers.
            cases.append(Case.skip(name(level), f"setup failed: {str(error).splitlines()[0]}"))
            continue
        # The suite as the user runs it (`uv run pytest`), minus uv's own start-up.
        command = Command([python, "-m", "pytest"], project, context.env)
        cases.append(Case.command(name(level), lambda folder, command=command: command))
    return cases


def targets(results: Results) -> list[Target]:
    """The top level's suite; while the template cannot generate the top level yet, the
    highest level with a measured suite stands in, and the goal says so."""
    levels = [entry["level"] for entry in load_ladder()]
    top = levels[-1]
    result = results.get(name(top))
    if result is not None and result.skipped.startswith("setup failed"):
        measured = [
            level for level in levels if (found := results.get(name(level))) and found.samples
        ]
        top = max(measured, default=top)
        result = results.get(name(top))
    goal = f"level {top} test suite at most {TARGET_SECONDS:.0f} s"
    if top != levels[-1]:
        goal += f" (level {levels[-1]} could not be set up: see its row)"
    if result is None or result.median is None:
        if result is not None and result.failed:
            return [Target(goal, f"failed: {result.failed.splitlines()[0]}", None)]
        return [Target(goal, result.skipped if result else "not measured", None)]
    return [Target(goal, f"{result.median:.1f} s", result.median <= TARGET_SECONDS)]


COMPARISON = Comparison(
    name="suites",
    title="Each level's generated test suite",
    setup=setup,
    targets=targets,
)
