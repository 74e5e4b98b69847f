"""Training loop: the level-1 project's train command against MLflow's quick-start.

Both run in the generated project's own environment, on its data and model, and
log to a SQLite store of their own that persists across runs, as in a working
session: the warm-up run creates the store, the measured runs add to it.

The quick-start runs from a folder of its own, as its script would. MLflow infers
the requirements of a model from the packages it imports, in a subprocess, unless
the current folder is a uv project: then it exports them from uv.lock. The second
quick-start case runs from the project's folder to show that variant too.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.harness import (
    Case,
    Command,
    Comparison,
    Context,
    Results,
    Target,
    ratio,
    run_checked,
)
from benchmarks.projects import install, new_project, package_name

QUICKSTART_SCRIPT = Path(__file__).parent / "scripts" / "mlflow_quickstart.py"
OURS = "level-1 `python -m <package> train`"
QUICKSTART = "MLflow quick-start, own folder"
QUICKSTART_IN_PROJECT = "MLflow quick-start, in the uv project"
# The target: the generated train command at least this much faster.
TARGET_SPEEDUP = 2.0
# Older OpenBLAS builds misbehave on some processors, so some machines set these;
# they slow a current numpy. Unset both together for the timed commands alone.
OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
KERNEL_PROBE = (
    "import json, numpy, threadpoolctl;"
    "print(json.dumps([(i['internal_api'], i.get('architecture')) "
    "for i in threadpoolctl.threadpool_info()]))"
)


def setup(context: Context) -> list[Case]:
    project = new_project(context, context.work / "level-1", level=1)
    python = install(context, project)
    env = {k: v for k, v in context.env.items() if k not in OPENBLAS_VARIABLES}
    # The project logs to $MLFLOW_TRACKING_URI when set: make it use its own SQLite store.
    env.pop("MLFLOW_TRACKING_URI", None)
    kernels = run_checked(Command([python, "-c", KERNEL_PROBE], project, env)).stdout
    context.notes.append(f"BLAS in the project's environment: {json.loads(kernels)}")

    stores = {}
    for name in (QUICKSTART, QUICKSTART_IN_PROJECT):
        stores[name] = context.work / name.replace(" ", "-").replace(",", "")
        stores[name].mkdir()
    train = [python, "-m", package_name(project), "train"]
    return [
        Case.command(OURS, lambda folder: Command(train, project, env)),
        Case.command(
            QUICKSTART,
            lambda folder: Command(
                [python, QUICKSTART_SCRIPT, project, stores[QUICKSTART]], stores[QUICKSTART], env
            ),
        ),
        Case.command(
            QUICKSTART_IN_PROJECT,
            lambda folder: Command(
                [python, QUICKSTART_SCRIPT, project, stores[QUICKSTART_IN_PROJECT]], project, env
            ),
        ),
    ]


def ratios(results: Results) -> dict[str, tuple[float, str]]:
    baseline = results.get(QUICKSTART)
    computed = {name: ratio(result, baseline) for name, result in results.items()}
    return {name: (value, f"vs {QUICKSTART}") for name, value in computed.items() if value}


def targets(results: Results) -> list[Target]:
    found = []
    for quickstart in (QUICKSTART, QUICKSTART_IN_PROJECT):
        goal = f"level-1 train at least {TARGET_SPEEDUP:.0f}x faster than the {quickstart}"
        value = ratio(results.get(quickstart), results.get(OURS))
        if value is None:
            found.append(Target(goal, "not measured", None))
        else:
            measured = f"{value:.2f}x faster" if value >= 1 else f"{1 / value:.2f}x slower"
            found.append(Target(goal, measured, value >= TARGET_SPEEDUP))
    return found


COMPARISON = Comparison(
    name="train",
    title="One tracked training run",
    setup=setup,
    targets=targets,
    ratios=ratios,
)
