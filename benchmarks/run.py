"""Run the comparisons side by side and report them.

    uv run --group bench --compile-bytecode python -m benchmarks [--only scaffold,train] [--runs 5]

Prints a Markdown table and writes the same numbers as JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import mlops_levels
from benchmarks import (
    assess,
    cli_start,
    first_prediction,
    scaffold,
    serving,
    soak,
    suites,
    train,
    upgrade,
)
from benchmarks.harness import Comparison, Context, Outcome, machine, markdown, run_comparison

# Every comparison, in report order. A new one is a module with a COMPARISON and a
# line here.
COMPARISONS: dict[str, Comparison] = {
    comparison.name: comparison
    for comparison in (
        scaffold.COMPARISON,
        upgrade.COMPARISON,
        train.COMPARISON,
        suites.COMPARISON,
        serving.COMPARISON,
        serving.LOGGING,
        first_prediction.COMPARISON,
        cli_start.COMPARISON,
        soak.COMPARISON,
        assess.COMPARISON,
    )
}
RESULTS = Path(__file__).parent / "results"
TOOLS = ("mlops-levels", "copier", "kedro", "cookiecutter-data-science", "mlflow")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time mlops-levels against its peers on this machine, side by side.",
    )
    parser.add_argument(
        "--only",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=list(COMPARISONS),
        metavar="NAMES",
        help=f"comma-separated comparisons to run (default: all of {','.join(COMPARISONS)})",
    )
    parser.add_argument("--runs", type=int, default=5, help="measured runs per case (default 5)")
    parser.add_argument(
        "--warmup", type=int, default=1, help="unrecorded runs per case first (default 1)"
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="folder for the JSON (default: %(default)s)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch folder of generated projects"
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.only if name not in COMPARISONS]
    if unknown or not args.only:
        parser.error(f"--only takes some of {', '.join(COMPARISONS)}; got {unknown or 'none'}")
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup at least 0")
    return args


def versions() -> dict[str, str]:
    found = {}
    for name in TOOLS:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    for tool in ("uv", "git"):
        path = shutil.which(tool)
        if path is None:
            found[tool] = "missing"
            continue
        output = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
        found[tool] = output.stdout.strip()
    return found


def bytecode_warnings() -> list[str]:
    """Say so when imports here would compile from source on every run, unlike a user's."""
    # Our own package may be an editable install that uv never compiles: compile it here.
    compileall.compile_dir(Path(mlops_levels.__file__).parent, quiet=1)
    spec = importlib.util.find_spec("copier")
    if spec and spec.origin and not Path(importlib.util.cache_from_source(spec.origin)).exists():
        return [
            "site-packages has no bytecode, so every run compiles its imports: run with "
            "`uv run --group bench --compile-bytecode python -m benchmarks`."
        ]
    return []


def base_env(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    # Generated projects use their own virtual environments, never this one.
    env.pop("VIRTUAL_ENV", None)
    # The CLI's template cache starts empty in the scratch folder; the warm-up fills it.
    env["MLOPS_LEVELS_HOME"] = str(work / "mlops-levels-home")
    return env


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    host = machine()  # before the runs, so that its load average is other work's alone
    scripts = Path(sysconfig.get_path("scripts"))
    warnings = bytecode_warnings()
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="mlops-levels-bench-"))
    outcomes: list[Outcome] = []
    try:
        for name in args.only:
            folder = work / name
            folder.mkdir()
            context = Context(folder, base_env(work), scripts, notes=list(warnings))
            print(f"==> {name}: setting up", file=sys.stderr, flush=True)
            outcomes.append(
                run_comparison(
                    COMPARISONS[name],
                    context,
                    runs=args.runs,
                    warmup=args.warmup,
                    progress=lambda line: print(f"    {line}", file=sys.stderr, flush=True),
                )
            )
    finally:
        if args.keep:
            print(f"Scratch folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    report = markdown(outcomes, runs=args.runs, warmup=args.warmup, host=host)
    print(report)
    record = {
        "started": started.isoformat(timespec="seconds"),
        "seconds": round((datetime.now(UTC) - started).total_seconds(), 1),
        "argv": sys.argv[1:] if argv is None else list(argv),
        "runs": args.runs,
        "warmup": args.warmup,
        "machine": host,
        "versions": versions(),
        "comparisons": [outcome.to_json() for outcome in outcomes],
    }
    args.output.mkdir(parents=True, exist_ok=True)
    path = args.output / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"Wrote {path}", file=sys.stderr)
    return 0
