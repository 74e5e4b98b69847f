"""Time to first prediction: from `mlops-levels new` to the service's first answer.

One sample does, in a fresh folder, what the level-3 project's README tells a new
user, and times each step:

1. `mlops-levels new my-project --level 3 --defaults`;
2. `uv sync`, bytecode compiled, as every comparison installs (projects.SYNC), and
   offline: from uv's cache, which setup fills, so nothing is downloaded;
3. `uv run dvc repro`: the pipeline, whose register and promote stages make the
   champion in the project's mlflow.db;
4. `uv run python -m <package> serve --port P` from the project root, where the
   service finds mlflow.db by itself ($MLFLOW_TRACKING_URI unset, as in the
   README), polled with POST /predict of one row until it answers 200.

The server is then stopped, untimed. The first case is the total; the others are
its steps, from the same runs, each with its share of the total as its ratio.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from benchmarks.harness import (
    Case,
    Command,
    CommandFailed,
    Comparison,
    Context,
    Results,
    Target,
    ratio,
    run_checked,
)
from benchmarks.projects import SYNC, install, new_project, package_name
from benchmarks.serving import feature_rows, free_port, running
from benchmarks.train import OPENBLAS_VARIABLES

LEVEL = 3
PROJECT = "my-project"
TOTAL = f"level {LEVEL}: `mlops-levels new` to the first prediction"
NEW = f"step: `mlops-levels new --level {LEVEL} --defaults`"
SYNC_STEP = "step: `uv sync` (bytecode compiled)"
REPRO = "step: `uv run dvc repro` (ends with register and promote)"
SERVE = "step: `serve` started until POST /predict answers 200"
STEPS = (NEW, SYNC_STEP, REPRO, SERVE)
SHORT = {NEW: "new", SYNC_STEP: "uv sync", REPRO: "dvc repro", SERVE: "serve"}
# The target for the whole walk.
TARGET_SECONDS = 60.0
# How often to ask /predict while the service starts: the step's resolution.
POLL_SECONDS = 0.05


def setup(context: Context) -> list[Case]:
    """Fill uv's cache with one untimed install, and make the request of one row."""
    project = new_project(context, context.work / PROJECT, LEVEL)
    # Downloads only if uv's cache lacks packages, and says so in the notes.
    install(context, project)
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
    rows = feature_rows(project / params["data"]["path"], params["data"]["target"], 1)
    body = json.dumps({"rows": rows}).encode()
    env = {k: v for k, v in context.env.items() if k not in OPENBLAS_VARIABLES}
    # The README's way: the service and the pipeline use the project's mlflow.db.
    env.pop("MLFLOW_TRACKING_URI", None)
    context.notes.append(
        f"Each run: a new level-{LEVEL} project in a fresh folder, `uv sync --offline "
        "--compile-bytecode` from a warm uv cache, `uv run --offline dvc repro`, then "
        f"`serve` polled every {POLL_SECONDS * 1000:.0f} ms with POST /predict of one row "
        f"of {params['data']['path']}. Ratios are each step's share of the total."
    )
    return cases(lambda folder: walk(context, env, body, folder))


def walk(context: Context, env: dict[str, str], body: bytes, folder: Path) -> dict[str, float]:
    """The user's steps in `folder`, each timed: seconds by step."""
    times: dict[str, float] = {}
    start = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal start
        now = time.perf_counter()
        times[step] = now - start
        start = now

    project = new_project(context, folder / PROJECT, LEVEL)
    lap(NEW)
    run_checked(Command([*SYNC, "--offline"], project, env))
    lap(SYNC_STEP)
    run_checked(Command(["uv", "run", "--offline", "dvc", "repro"], project, env))
    lap(REPRO)
    port = free_port()
    argv = ["uv", "run", "--offline", "python", "-m", package_name(project), "serve"]
    command = Command([*argv, "--port", str(port)], project, env)
    log = folder / "server.log"
    with running(command, port, "/predict", log, ready_body=body, poll_seconds=POLL_SECONDS):
        lap(SERVE)
    return times


def cases(measure: Callable[[Path], dict[str, float]]) -> list[Case]:
    """The total, then each step: one walk per round, made by the total's case."""
    latest: dict[str, float] = {}
    error: list[str] = []

    def total(folder: Path) -> float:
        latest.clear()
        error.clear()
        try:
            latest.update(measure(folder))
        except (CommandFailed, OSError) as failure:
            error.append(str(failure))
            raise CommandFailed(str(failure)) from failure
        return sum(latest.values())

    def step(name: str) -> Callable[[Path], float]:
        def sample(folder: Path) -> float:
            if name not in latest:
                raise CommandFailed(error[0] if error else f"{name}: not measured")
            return latest[name]

        return sample

    return [Case(TOTAL, total), *(Case(name, step(name)) for name in STEPS)]


def ratios(results: Results) -> dict[str, tuple[float, str]]:
    """Each step's median over the total's: its share."""
    found = {}
    for name in STEPS:
        value = ratio(results.get(name), results.get(TOTAL))
        if value is not None:
            found[name] = (value, "of the total")
    return found


def breakdown(results: Results) -> str:
    """The steps' medians and shares, in order, for the target's line."""
    total = results.get(TOTAL)
    parts = []
    for name in STEPS:
        result = results.get(name)
        if result is None or result.median is None or total is None or not total.median:
            continue
        parts.append(f"{SHORT[name]} {result.median:.1f} s ({result.median / total.median:.0%})")
    return ", ".join(parts)


def targets(results: Results) -> list[Target]:
    goal = (
        f"level {LEVEL}: `mlops-levels new` to the first prediction at most "
        f"{TARGET_SECONDS:.0f} s (warm uv cache)"
    )
    total = results.get(TOTAL)
    if total is None or total.median is None:
        if total is not None and total.failed:
            return [Target(goal, f"failed: {total.failed.splitlines()[0]}", None)]
        return [Target(goal, "not measured", None)]
    measured = f"{total.median:.1f} s: {breakdown(results)}"
    return [Target(goal, measured, total.median <= TARGET_SECONDS)]


COMPARISON = Comparison(
    name="first-prediction",
    title="Time to first prediction: a new level-3 project to its service's first answer",
    setup=setup,
    targets=targets,
    ratios=ratios,
)
