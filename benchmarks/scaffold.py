"""Scaffold: `mlops-levels new --defaults` at each level against kedro and ccds.

Each sample is one command in a fresh folder, as a user runs it. The peers make
their default projects: `kedro new` from the template inside its package, and
`ccds --no-input` from a local copy of its template (CCDS_TEMPLATE), since ccds
otherwise clones the template from GitHub on every run.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.harness import (
    Case,
    Command,
    Comparison,
    Context,
    Results,
    Target,
    fastest,
    ratio,
)
from mlops_levels.ladder import load_ladder

CCDS_TEMPLATE = "CCDS_TEMPLATE"
KEDRO = "kedro new"
CCDS = "ccds --no-input"
PEERS = (KEDRO, CCDS)
# The target: the top level scaffolds at most as slowly as the faster peer.
TARGET_RATIO = 1.0
NOT_INSTALLED = "{} is not installed here: run the benchmarks with `uv run --group bench`."


def ours(level: int) -> str:
    return f"mlops-levels new --level {level} --defaults"


def setup(context: Context) -> list[Case]:
    # The template cache lives in the scratch folder; the warm-up run fills it, as a
    # user's first `new` does.
    cases = [_ours(context, level["level"]) for level in load_ladder()]
    return [*cases, _kedro(context), _ccds(context)]


def _ours(context: Context, level: int) -> Case:
    def prepare(folder: Path) -> Command:
        argv = [context.scripts / "mlops-levels", "new", folder / "my-project"]
        return Command([*argv, "--level", str(level), "--defaults"], folder, context.env)

    return Case.command(ours(level), prepare)


def _kedro(context: Context) -> Case:
    kedro = context.scripts / "kedro"
    if not kedro.exists():
        return Case.skip(KEDRO, NOT_INSTALLED.format("kedro"))
    # kedro-telemetry (installed with kedro) reads this variable and then sends nothing.
    env = {**context.env, "KEDRO_DISABLE_TELEMETRY": "1"}
    # Every prompt answered with its default: tools "none", no example pipeline; the
    # telemetry prompt answered "no" (it writes the project's .telemetry file).
    argv = [kedro, "new", "--name", "my-project", "--tools", "none", "--example", "n"]
    argv += ["--telemetry", "no"]
    return Case.command(KEDRO, lambda folder: Command(argv, folder, env))


def _ccds(context: Context) -> Case:
    ccds = context.scripts / "ccds"
    if not ccds.exists():
        return Case.skip(CCDS, NOT_INSTALLED.format("cookiecutter-data-science"))
    template = os.environ.get(CCDS_TEMPLATE, "")
    if not template:
        reason = (
            f"{CCDS_TEMPLATE} is not set. ccds clones its template from GitHub on every "
            "run, which cannot work offline: set it to a local copy of the "
            "cookiecutter-data-science template (the folder holding ccds.json)."
        )
        return Case.skip(CCDS, reason)
    if not (Path(template) / "ccds.json").is_file():
        return Case.skip(CCDS, f"{CCDS_TEMPLATE}={template} has no ccds.json.")
    # A local folder: cookiecutter renders it in place, ignoring ccds's default --checkout.
    argv = [ccds, Path(template).resolve(), "--no-input"]
    return Case.command(CCDS, lambda folder: Command(argv, folder, context.env))


def ratios(results: Results) -> dict[str, tuple[float, str]]:
    """Every case against the faster peer of this run."""
    peer = fastest(results, PEERS)
    computed = {name: ratio(result, peer) for name, result in results.items()}
    return {
        name: (value, f"vs {peer.case}")
        for name, value in computed.items()
        if value is not None and peer is not None
    }


def targets(results: Results) -> list[Target]:
    """The top level against the faster peer; while the template cannot generate the
    top level yet, the highest level it generates stands in, and the goal says so."""
    levels = [entry["level"] for entry in load_ladder()]
    measured = [
        level for level in levels if (result := results.get(ours(level))) and result.samples
    ]
    level = max(measured, default=levels[-1])
    goal = f"`{ours(level)}` at most {TARGET_RATIO:.1f}x the faster peer"
    if level != levels[-1]:
        goal += f" (level {levels[-1]} did not generate: see its row)"
    peer = fastest(results, PEERS)
    value = ratio(results.get(ours(level)), peer)
    if value is None or peer is None:
        return [Target(goal, "no peer (or no level) measured", None)]
    return [Target(goal, f"{value:.2f}x {peer.case}", value <= TARGET_RATIO)]


COMPARISON = Comparison(
    name="scaffold",
    title="Scaffold a default project",
    setup=setup,
    targets=targets,
    ratios=ratios,
)
