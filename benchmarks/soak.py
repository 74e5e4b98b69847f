"""Soak: the level-4 service's memory under steady load, prediction log on.

Setup generates a level-4 project, installs it and runs its pipeline, as the
serving comparison does. Each sample starts `serve`, sends one-row requests
from the serving comparison's load generator, and reads the server's resident
memory (RSS) after every EVERY requests, up to TOTAL ($SOAK_REQUESTS, if set).

What should hold: memory is flat once warm. The first WARMUP requests fill
what is meant to fill (imports touched at the first request, SQLite's page
cache, allocator arenas); from there to the end, growth means something is
kept per request.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from benchmarks import serving
from benchmarks.harness import Case, CommandFailed, Comparison, Context, Results, Target

TOTAL = int(os.environ.get("SOAK_REQUESTS", "200000"))
EVERY = 10_000
WARMUP = 20_000
# The goal, flat after warm-up, as a bound: allocator noise is a few MiB.
TARGET_GROWTH_MIB = 5.0
GROWTH = "RSS growth after warm-up"


def checkpoint(requests: int) -> str:
    return f"RSS after {requests:,} requests" if requests else "RSS when ready"


def rss_mib(process: subprocess.Popen[bytes]) -> float:
    """The largest resident set of the server's process group (`uv run` and the
    server it starts), in MiB."""
    largest = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
        except OSError:
            continue  # gone meanwhile
        # The process group is the fifth field; the second, the name, may hold spaces.
        if int(stat.rpartition(")")[2].split()[2]) != process.pid:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                largest = max(largest, int(line.split()[1]))
    return largest / 1024


def soak(
    port: int, process: subprocess.Popen[bytes], request: bytes, total: int, every: int
) -> list[tuple[int, float]]:
    """(requests answered, RSS in MiB), from before the first request to `total`."""
    samples = [(0, rss_mib(process))]
    for done in range(every, total + 1, every):
        stats = serving.load(port, request, every)
        if stats.failures:
            raise CommandFailed(
                f"{sum(stats.failures.values())} of {every} answers were not 2xx "
                f"({dict(stats.failures)}); first: {stats.first_failure}"
            )
        samples.append((done, rss_mib(process)))
    return samples


def growth(samples: list[tuple[int, float]], warmup: int) -> float:
    """RSS at the end less RSS once `warmup` requests were answered."""
    warm = next(rss for done, rss in samples if done >= warmup)
    return samples[-1][1] - warm


def cases(measure: Callable[[Path], list[tuple[int, float]]], total: int) -> list[Case]:
    """A row per checkpoint and one for the growth; the first measures a whole soak,
    the others report from it."""
    latest: list[tuple[int, float]] = []

    def sample(index: int) -> Callable[[Path], float]:
        def read(folder: Path) -> float:
            if index == 0:
                latest[:] = measure(folder)
            if not latest:
                raise CommandFailed("the soak did not run")
            if index == len(latest):
                return growth(latest, WARMUP)
            return latest[index][1]

        return read

    names = [checkpoint(done) for done in range(0, total + 1, EVERY)]
    return [Case(name, sample(index), unit="MiB") for index, name in enumerate(names)] + [
        Case(GROWTH, sample(len(names)), unit="MiB")
    ]


def setup(context: Context, total: int = TOTAL) -> list[Case]:
    served = serving.prepare(context, 4)
    server = serving.generated_service(served)
    body = json.dumps(server.body(served.rows[:1])).encode()
    context.notes.append(
        f"Soak: {total:,} one-row requests from {serving.CONCURRENCY} keep-alive "
        f"connections, RSS read every {EVERY:,}; warm-up: the first {WARMUP:,}."
    )

    def measure(folder: Path) -> list[tuple[int, float]]:
        port = serving.free_port()
        command = server.command(port)
        with serving.running(command, port, server.ready_path, folder / "server.log") as process:
            request = serving.http_request("POST", server.predict_path, port, body)
            return soak(port, process, request, total, EVERY)

    return cases(measure, total)


def targets(results: Results) -> list[Target]:
    goal = f"RSS flat after {WARMUP:,} requests: growth at most {TARGET_GROWTH_MIB:.0f} MiB"
    result = results.get(GROWTH)
    if result is None or result.median is None:
        return [Target(goal, "not measured", None)]
    return [Target(goal, f"{result.median:+.1f} MiB", result.median <= TARGET_GROWTH_MIB)]


COMPARISON = Comparison(
    name="soak",
    title="The level-4 service's memory under steady load",
    setup=setup,
    targets=targets,
)
