"""The machinery every comparison shares: cases, timing, statistics, and the report.

A comparison (one module beside this one) turns a scratch folder into cases. Each
case measures one sample per call, in a fresh empty folder of its own, so that no
sample inherits state it did not set up itself. The runner interleaves the cases
of a comparison, one sample of each per round, so that slow drift on the machine
(a warming disk cache, another process) spreads over all of them alike.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Lines of a failed command's output to quote: enough to see why, short enough to read.
OUTPUT_TAIL_LINES = 15


class CommandFailed(RuntimeError):
    """A command exited non-zero; the message quotes the end of its output."""


@dataclass(frozen=True)
class Command:
    """One command line, run the way a user runs it: a process of its own."""

    argv: Sequence[str | Path]
    cwd: Path
    env: Mapping[str, str]

    def __str__(self) -> str:
        # Paths by name only: their folders (scratch folders, virtual environments) are noise.
        return " ".join(part.name if isinstance(part, Path) else str(part) for part in self.argv)


def run_checked(
    command: Command, timeout: float = 1800, expect: int = 0
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion, raising CommandFailed with its output unless it exits
    with `expect` (a refusal is what some cases time)."""
    result = subprocess.run(
        [str(part) for part in command.argv],
        cwd=command.cwd,
        env=dict(command.env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != expect:
        output = (result.stdout + result.stderr).strip().splitlines()[-OUTPUT_TAIL_LINES:]
        # Error messages end stderr; pytest's summary ends stdout.
        last = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()[-1]
        raise CommandFailed(
            f"`{command}` exited {result.returncode}{f', not {expect}' if expect else ''} "
            f"in {command.cwd.name}/: {last}\n" + "\n".join(output)
        )
    return result


def time_command(command: Command, expect: int = 0) -> float:
    """Wall time of one run of `command`, in seconds, process start and exit included."""
    start = time.perf_counter()
    run_checked(command, expect=expect)
    return time.perf_counter() - start


@dataclass(frozen=True)
class Case:
    """One thing to measure. `measure` takes an empty folder and returns one sample."""

    name: str
    measure: Callable[[Path], float] | None
    skipped: str = ""  # why there is nothing to measure; then `measure` is None
    unit: str = "s"

    @classmethod
    def command(cls, name: str, prepare: Callable[[Path], Command]) -> Case:
        """A case that times one command; `prepare` sets up its folder first, untimed."""
        return cls(name, lambda folder: time_command(prepare(folder)))

    @classmethod
    def skip(cls, name: str, reason: str) -> Case:
        return cls(name, None, skipped=reason)


@dataclass
class Result:
    """The samples of one case, and what the report says about them."""

    case: str
    unit: str
    samples: list[float] = field(default_factory=list)
    skipped: str = ""
    failed: str = ""
    ratio: float | None = None
    versus: str = ""  # the case the ratio divides by

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def low(self) -> float | None:
        return min(self.samples) if self.samples else None

    @property
    def high(self) -> float | None:
        return max(self.samples) if self.samples else None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "median": self.median, "min": self.low, "max": self.high}


Results = Mapping[str, Result]


@dataclass(frozen=True)
class Target:
    """A goal from the issue and whether this run meets it (None: could not tell)."""

    goal: str
    measured: str
    met: bool | None


@dataclass
class Context:
    """What a comparison's setup gets: its scratch folder, the environment, and notes."""

    work: Path
    env: dict[str, str]
    scripts: Path  # the folder of this environment's console scripts (mlops-levels, kedro)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Comparison:
    """One row group of the report. Setup is untimed and may be slow (installs)."""

    name: str
    title: str
    setup: Callable[[Context], list[Case]]
    targets: Callable[[Results], list[Target]]
    # Each case's ratio and the case it divides by; none for comparisons without a peer.
    ratios: Callable[[Results], dict[str, tuple[float, str]]] = lambda results: {}


@dataclass
class Outcome:
    """A comparison after its runs."""

    comparison: Comparison
    results: list[Result]
    targets: list[Target]
    notes: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.comparison.name,
            "title": self.comparison.title,
            "results": [result.to_json() for result in self.results],
            "targets": [asdict(target) for target in self.targets],
            "notes": self.notes,
        }


def ratio(result: Result | None, baseline: Result | None) -> float | None:
    """result's median over baseline's, or None when either has no samples."""
    if result is None or baseline is None or result.median is None or not baseline.median:
        return None
    return result.median / baseline.median


def fastest(results: Results, names: Sequence[str]) -> Result | None:
    """The measured case among `names` with the lowest median."""
    measured = [results[name] for name in names if name in results and results[name].samples]
    return min(measured, key=lambda result: result.median or 0.0, default=None)


def run_comparison(
    comparison: Comparison,
    context: Context,
    *,
    runs: int,
    warmup: int,
    progress: Callable[[str], None],
) -> Outcome:
    """Set up, then `warmup` unrecorded rounds and `runs` recorded ones, cases interleaved."""
    try:
        cases = comparison.setup(context)
    except (CommandFailed, OSError, subprocess.TimeoutExpired) as error:
        context.notes.append(f"Setup failed, nothing measured: {error}")
        return Outcome(comparison, [], comparison.targets({}), context.notes)
    results = {case.name: Result(case.name, case.unit, skipped=case.skipped) for case in cases}
    for round_number in range(warmup + runs):
        recorded = round_number >= warmup
        label = f"run {round_number - warmup + 1}/{runs}" if recorded else "warm-up"
        for index, case in enumerate(cases):
            result = results[case.name]
            if case.measure is None or result.failed:
                continue
            folder = context.work / "samples" / f"{index}-{round_number}"
            folder.mkdir(parents=True)
            try:
                sample = case.measure(folder)
            except (CommandFailed, subprocess.TimeoutExpired) as error:
                result.failed = str(error)
                progress(f"{comparison.name}: {case.name}: FAILED, no more runs of it")
                continue
            progress(f"{comparison.name}: {case.name}: {label}: {format_value(sample, case.unit)}")
            if recorded:
                result.samples.append(sample)
    for name, (value, versus) in comparison.ratios(results).items():
        results[name].ratio, results[name].versus = value, versus
    return Outcome(comparison, list(results.values()), comparison.targets(results), context.notes)


# --- The report ----------------------------------------------------------------------


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} {unit}" if unit == "s" else f"{value:.1f} {unit}"


def _cell(text: str) -> str:
    """Text fit for one Markdown table cell: one line, no column breaks."""
    return " ".join(text.split()).replace("|", "\\|")


def markdown(
    outcomes: Sequence[Outcome], *, runs: int, warmup: int, host: Mapping[str, Any] | None = None
) -> str:
    """The report: one table of every case, one of every target, then the notes."""
    lines = []
    if host:
        lines += [
            f"Machine: {host.get('nproc')} cores (`nproc`), {host.get('memory', '?')}, "
            f"{host.get('cpu', '?')}, Python {host.get('python')}, {host.get('os')}; "
            f"load average {host['load_average_1_5_15_min'][0]} as the run started.",
            "",
        ]
    lines += [
        f"Median of {runs} runs after {warmup} warm-up run{'s' if warmup != 1 else ''}; "
        "min-max is the spread of those runs.",
        "",
        "| comparison | case | median | min-max | ratio |",
        "|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        for result in outcome.results:
            if result.failed or result.skipped:
                # A failure's first line says what failed; its output is in the JSON.
                first_line = result.failed.splitlines()[0] if result.failed else ""
                status = (
                    f"failed: {first_line} (output in the JSON)" if first_line else result.skipped
                )
                spread, shown_ratio = f"not measured: {status}", ""
            else:
                low = format_value(result.low, result.unit).split()[0]
                spread = f"{low}-{format_value(result.high, result.unit)}"
                shown_ratio = (
                    f"{result.ratio:.2f}x {result.versus}" if result.ratio is not None else ""
                )
            lines.append(
                f"| {outcome.comparison.name} | {_cell(result.case)} "
                f"| {format_value(result.median, result.unit)} | {_cell(spread)} "
                f"| {_cell(shown_ratio)} |"
            )
    targets = [target for outcome in outcomes for target in outcome.targets]
    if targets:
        lines += ["", "| target | measured | met |", "|---|---|---|"]
        status = {True: "yes", False: "**no**", None: "not measured"}
        for target in targets:
            cells = (_cell(target.goal), _cell(target.measured), status[target.met])
            lines.append("| {} | {} | {} |".format(*cells))
    notes = [
        f"- {outcome.comparison.name}: {note}" for outcome in outcomes for note in outcome.notes
    ]
    if notes:
        lines += ["", "Notes:", "", *notes]
    return "\n".join(lines) + "\n"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    info: dict[str, Any] = {
        # What `nproc` prints: the cores this process may run on.
        "nproc": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "os": platform.platform(),
        # Other work on the machine slows every case; interleaving spreads it evenly.
        "load_average_1_5_15_min": [round(load, 2) for load in os.getloadavg()],
    }
    for path, key, separator, label in [
        ("/proc/cpuinfo", "model name", ":", "cpu"),
        ("/proc/meminfo", "MemTotal", ":", "memory"),
        ("/etc/os-release", "PRETTY_NAME", "=", "os"),
    ]:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            name, _, value = line.partition(separator)
            if name.strip() == key:
                info[label] = value.strip().strip('"')
                break
    if str(info.get("memory", "")).endswith(" kB"):
        info["memory"] = f"{int(info['memory'].split()[0]) / 1024**2:.1f} GiB"
    return info
