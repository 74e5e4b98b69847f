"""The generated command line's start-up: what should answer at once, does.

`--help`, a mistyped option and a missing params file need none of MLflow,
scikit-learn or FastAPI: the level-4 project's command line imports those only
in a command's handler, once it runs. Each case is one process, start to exit.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from benchmarks.harness import Case, Command, CommandFailed, Comparison, Context, Results, Target
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


def timed(command: Command, code: int) -> float:
    """Wall time of one run of `command`, which must exit with `code`."""
    start = time.perf_counter()
    result = subprocess.run(
        [str(part) for part in command.argv],
        cwd=command.cwd,
        env=dict(command.env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != code:
        raise CommandFailed(
            f"`{command}` exited {result.returncode}, not {code}: {result.stderr.strip()}"
        )
    return elapsed


def setup(context: Context) -> list[Case]:
    project = new_project(context, context.work / "level-4", level=4)
    python = install(context, project)
    base: list[str | Path] = [python, "-m", package_name(project)]
    return [
        Case(
            name,
            lambda _folder, args=args, code=code: timed(
                Command([*base, *args], project, context.env), code
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
