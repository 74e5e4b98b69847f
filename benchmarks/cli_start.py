"""The generated command line's start-up: what should answer at once, does.

`--help`, a mistyped option and a missing params file need none of MLflow,
scikit-learn or FastAPI: the level-4 project's command line imports those only
in a command's handler, once it runs. Each case is one process, start to exit.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.harness import Case, Command, Comparison, Context, Results, Target, time_command
from benchmarks.projects import install, new_project, package_name

# The target: each of these answers in under a second.
TARGET_SECONDS = 1.0
# (case, the command's arguments, the exit code it must end with)
CASES = [
    ("`--help`", ["--help"], 0),
    ("`train --help`", ["train", "--help"], 0),
    ("`serve --help`", ["serve", "--help"], 0),
    ("`retrain --help`", ["retrain", "--help"], 0),
    ("`monitor --since` a non-date (usage error)", ["monitor", "--since", "soon"], 2),
    ("`train --params` a missing file (refused)", ["train", "--params", "missing.yaml"], 1),
]


def setup(context: Context) -> list[Case]:
    project = new_project(context, context.work / "level-4", level=4)
    python = install(context, project)
    base: list[str | Path] = [python, "-m", package_name(project)]
    return [
        Case(
            name,
            lambda _folder, args=args, code=code: time_command(
                Command([*base, *args], project, context.env), expect=code
            ),
        )
        for name, args, code in CASES
    ]


def targets(results: Results) -> list[Target]:
    medians = {name: result.median for name, result in results.items()}
    goal = f"every case at most {TARGET_SECONDS:.0f} s"
    if any(value is None for value in medians.values()):
        return [Target(goal, "not measured", None)]
    slowest = max(medians, key=lambda name: medians[name] or 0.0)
    value = medians[slowest] or 0.0
    return [Target(goal, f"slowest {slowest}: {value:.2f} s", value <= TARGET_SECONDS)]


COMPARISON = Comparison(
    name="cli-start",
    title="The level-4 command line's start-up",
    setup=setup,
    targets=targets,
)
