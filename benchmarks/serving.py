"""Serving: the level-3 project's service against `mlflow models serve`, same model.

Setup generates a level-3 project, installs it and runs its pipeline (`dvc repro`),
whose last stages register the model and promote it to champion in the project's
registry (mlflow.db). Both servers then serve that champion from the project's own
environment, one worker each, as their users start them:

- `uv run python -m <package> serve --port P`, ready when GET /ready answers 200;
- `uv run mlflow models serve -m models:/<name>@champion --workers 1
  --env-manager local`, ready when GET /ping answers 200.

Each sample starts the server in a fresh process, sends warm-up requests, then a
fixed number of requests for each payload (the same rows for both servers) from
CONCURRENCY keep-alive connections, and stops the server. Requests per second
count 2xx answers only; any other answer is a failure, reported in the notes.

PyPI has no compiled HTTP load generator (oha is not there, and its `hey` and `wrk`
are unrelated packages), so `load` is a lean one: asyncio, raw HTTP/1.1 over
keep-alive connections, in this process. It runs on one core while the server under
test runs on the other; the stub rows measure its ceiling: the same load against a
stub server that answers without work.
"""

from __future__ import annotations

import asyncio
import csv
import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks.harness import (
    OUTPUT_TAIL_LINES,
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
from benchmarks.projects import install, new_project, package_name
from benchmarks.train import OPENBLAS_VARIABLES

CONCURRENCY = 8
MLFLOW = "`mlflow models serve`"
STUB = "load generator vs a stub server"
# The targets for the generated service against mlflow's.
TARGET_RPS_RATIO = 10.0
TARGET_P99_RATIO = 1 / 5
# Bounds for one server: time to get ready, and time for one payload's load.
READY_SECONDS = 180.0
LOAD_SECONDS = 300.0
METRICS = (("requests/s", "req/s"), ("p50", "ms"), ("p99", "ms"))


@dataclass(frozen=True)
class Payload:
    """Rows per request, and how many requests to send: warm-up first, then measured."""

    rows: int
    requests: int
    warmup: int

    @property
    def name(self) -> str:
        return f"{self.rows} row{'s' if self.rows != 1 else ''}"


PAYLOADS = (Payload(rows=1, requests=2000, warmup=200), Payload(rows=100, requests=500, warmup=50))


# --- The load generator ----------------------------------------------------------------


@dataclass
class LoadStats:
    """What one load run measured. Latencies are of 2xx answers, in seconds."""

    seconds: float
    latencies: list[float]
    failures: Counter[str] = field(default_factory=Counter)
    first_failure: str = ""  # the status line and body start of the first non-2xx answer

    @property
    def answered(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        return percentile(sorted(self.latencies), q) * 1000


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank percentile q (0-100] of values sorted in ascending order."""
    if not ordered:
        raise ValueError("no values")
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def parse_head(head: bytes) -> tuple[int, int, bool]:
    """Status, Content-Length and whether the server keeps the connection open.

    Both servers answer with a Content-Length; a chunked answer is refused.
    """
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" not in headers:
        raise ValueError(f"an answer without Content-Length: {lines[0]}")
    keep_alive = headers.get("connection", "").lower() != "close"
    return status, int(headers["content-length"]), keep_alive


def http_request(method: str, path: str, port: int, body: bytes = b"") -> bytes:
    """The bytes of one HTTP/1.1 request to 127.0.0.1:port."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def _connection(port: int, request: bytes, remaining: list[int], stats: LoadStats) -> None:
    """One client: send the request, read the answer, again, while requests remain."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while remaining[0] > 0:
            remaining[0] -= 1
            start = time.perf_counter()
            writer.write(request)
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                status, length, keep_alive = parse_head(head)
                body = await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError) as error:
                # The server dropped the connection: count it and open another.
                stats.failures[type(error).__name__] += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            if 200 <= status < 300:
                stats.latencies.append(time.perf_counter() - start)
            else:
                stats.failures[str(status)] += 1
                if not stats.first_failure:
                    first_line = head.split(b"\r\n", 1)[0].decode("latin-1")
                    stats.first_failure = f"{first_line}: {body[:200].decode(errors='replace')}"
            if not keep_alive:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def _load(port: int, request: bytes, count: int, concurrency: int) -> LoadStats:
    stats = LoadStats(seconds=0.0, latencies=[])
    remaining = [count]
    start = time.perf_counter()
    clients = (_connection(port, request, remaining, stats) for _ in range(concurrency))
    await asyncio.wait_for(asyncio.gather(*clients), timeout=LOAD_SECONDS)
    stats.seconds = time.perf_counter() - start
    return stats


def load(port: int, request: bytes, count: int, concurrency: int = CONCURRENCY) -> LoadStats:
    """Send `request` `count` times to 127.0.0.1:port from `concurrency` connections."""
    try:
        return asyncio.run(_load(port, request, count, concurrency))
    except TimeoutError:
        raise CommandFailed(f"{count} requests took over {LOAD_SECONDS:.0f} s") from None
    except (OSError, ValueError) as error:
        raise CommandFailed(f"load on port {port} failed: {error!r}") from error


# --- Servers -----------------------------------------------------------------------------


def free_port() -> int:
    """A port nothing listens on now, from the kernel."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _log_tail(log: Path) -> str:
    lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return "\n".join(lines[-OUTPUT_TAIL_LINES:])


def _status(port: int, path: str, body: bytes | None = None) -> int | None:
    """The status of GET path, or of POST path with a JSON body; None if nothing answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        if body is None:
            connection.request("GET", path)
        else:
            connection.request("POST", path, body, {"Content-Type": "application/json"})
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


@contextmanager
def running(
    command: Command,
    port: int,
    ready_path: str,
    log: Path,
    *,
    ready_body: bytes | None = None,
    poll_seconds: float = 0.2,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server in a process group of its own, wait until ready_path answers 200
    (to a GET, or to a POST of ready_body when given), polling every poll_seconds, give
    its process, and stop the whole group (uv, the server, its workers) on the way out."""
    try:
        with log.open("w", encoding="utf-8") as output:
            process = subprocess.Popen(
                [str(part) for part in command.argv],
                cwd=command.cwd,
                env=dict(command.env),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except OSError as error:
        raise CommandFailed(f"`{command}` did not start: {error}") from error
    try:
        deadline = time.monotonic() + READY_SECONDS
        while _status(port, ready_path, ready_body) != 200:
            if process.poll() is not None:
                raise CommandFailed(
                    f"`{command}` exited {process.returncode} before it was ready:\n"
                    + _log_tail(log)
                )
            if time.monotonic() > deadline:
                raise CommandFailed(
                    f"`{command}`: {ready_path} not 200 after {READY_SECONDS:.0f} s:\n"
                    + _log_tail(log)
                )
            time.sleep(poll_seconds)
        yield process
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group, then SIGKILL to whatever of it is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + 15
        while _group_alive(process) and time.monotonic() < deadline:
            time.sleep(0.1)
    process.wait()


def _group_alive(process: subprocess.Popen[bytes]) -> bool:
    process.poll()  # reap the leader, so that a zombie does not count
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass(frozen=True)
class Server:
    """How to start one server and ask it for predictions."""

    command: Callable[[int], Command]  # the command line, given a port
    ready_path: str
    predict_path: str
    body: Callable[[list[dict[str, Any]]], Any]  # the JSON body of a request of rows


@dataclass(frozen=True)
class Served:
    """A generated project with a champion in its registry, and the rows to send."""

    project: Path
    package: str
    model_name: str
    env: Mapping[str, str]  # the environment both servers run in
    rows: list[dict[str, Any]]


def feature_rows(data: Path, target: str, count: int) -> list[dict[str, Any]]:
    """The first `count` rows of a CSV without its target, each column typed as a
    whole (int, else float, else str), as pandas types it for the model's signature."""
    with data.open(newline="", encoding="utf-8") as file:
        records = list(csv.DictReader(file))
    columns = [name for name in records[0] if name != target]
    kinds = {}
    for column in columns:
        for kind in (int, float, str):
            try:
                for record in records:
                    kind(record[column])
            except ValueError:
                continue
            kinds[column] = kind
            break
    return [
        {column: kinds[column](record[column]) for column in columns} for record in records[:count]
    ]


def prepare(context: Context, level: int) -> Served:
    """Generate and install a project at `level`, and give its registry a champion."""
    project = new_project(context, context.work / f"level-{level}", level)
    install(context, project)
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
    env = {k: v for k, v in context.env.items() if k not in OPENBLAS_VARIABLES}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{(project / 'mlflow.db').resolve()}"
    # The pipeline's register and promote stages make the champion.
    run_checked(Command(["uv", "run", "--offline", "dvc", "repro"], project, env))
    rows = feature_rows(
        project / params["data"]["path"],
        params["data"]["target"],
        max(payload.rows for payload in PAYLOADS),
    )
    return Served(project, package_name(project), params["registry"]["model_name"], env, rows)


def generated_service(served: Served, params: Path | None = None) -> Server:
    """The project's `serve`, with its params.yaml or with `params`."""

    def command(port: int) -> Command:
        argv = ["uv", "run", "python", "-m", served.package, "serve", "--port", str(port)]
        if params is not None:
            argv += ["--params", str(params)]
        return Command(argv, served.project, {**served.env, "SERVING_PORT": str(port)})

    return Server(command, "/ready", "/predict", lambda rows: {"rows": rows})


def mlflow_server(served: Served) -> Server:
    env = {**served.env, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"}

    def command(port: int) -> Command:
        # `uv run` puts the project's bin/ on PATH, where mlflow finds its uvicorn.
        argv = ["uv", "run", "mlflow", "models", "serve"]
        argv += ["-m", f"models:/{served.model_name}@champion", "--port", str(port)]
        return Command([*argv, "--workers", "1", "--env-manager", "local"], served.project, env)

    return Server(command, "/ping", "/invocations", lambda rows: {"dataframe_records": rows})


def stub_server() -> Server:
    def command(port: int) -> Command:
        argv = [sys.executable, "-m", "benchmarks.serving", "stub", str(port)]
        return Command(argv, Path(__file__).parent.parent, os.environ)

    return Server(command, "/ready", "/predict", lambda rows: {"rows": rows})


def measure(server: Server, rows: list[dict[str, Any]], folder: Path) -> dict[str, LoadStats]:
    """Start the server, load it with each payload in turn, stop it: stats by payload."""
    port = free_port()
    stats = {}
    with running(server.command(port), port, server.ready_path, folder / "server.log"):
        for payload in PAYLOADS:
            body = json.dumps(server.body(rows[: payload.rows])).encode()
            request = http_request("POST", server.predict_path, port, body)
            load(port, request, payload.warmup)
            stats[payload.name] = load(port, request, payload.requests)
    return stats


# --- Cases, ratios, targets --------------------------------------------------------------


def ours(level: int) -> str:
    return f"level-{level} `serve`"


def case_name(server: str, payload: Payload, metric: str) -> str:
    return f"{server}, {payload.name}: {metric}"


def server_cases(
    name: str, server: Server, rows: list[dict[str, Any]], notes: list[str]
) -> list[Case]:
    """Rows of requests/s, p50 and p99 for each payload, from one server start per round.

    The first case of a round starts the server and measures every payload; the
    others report from that measurement.
    """
    latest: dict[str, LoadStats] = {}
    error: list[str] = []

    def run(folder: Path) -> dict[str, LoadStats]:
        latest.clear()
        error.clear()
        try:
            measured = measure(server, rows, folder)
            for payload_name, stats in measured.items():
                if stats.failures:
                    notes.append(
                        f"{name}, {payload_name}: {sum(stats.failures.values())} answers "
                        f"were not 2xx in one run ({dict(stats.failures)}); first: "
                        f"{stats.first_failure}"
                    )
                if not stats.latencies:
                    raise CommandFailed(f"{name}, {payload_name}: no 2xx answer")
        except CommandFailed as failure:
            error.append(str(failure))
            raise
        latest.update(measured)
        return latest

    def metric(payload: Payload, index: int) -> Callable[[Path], float]:
        def sample(folder: Path) -> float:
            stats = run(folder) if index == 0 and payload == PAYLOADS[0] else latest
            if payload.name not in stats:
                raise CommandFailed(error[0] if error else f"{name}: not measured")
            found = stats[payload.name]
            if index == 0:
                return found.rps
            return found.percentile_ms(50 if index == 1 else 99)

        return sample

    return [
        Case(case_name(name, payload, label), metric(payload, index), unit=unit)
        for payload in PAYLOADS
        for index, (label, unit) in enumerate(METRICS)
    ]


def setup(context: Context, level: int = 3) -> list[Case]:
    served = prepare(context, level)
    context.notes.append(
        f"Load generator: asyncio, HTTP/1.1 keep-alive, {CONCURRENCY} connections, in the "
        "benchmark's process; requests per payload: "
        + ", ".join(f"{p.name}: {p.warmup} warm-up + {p.requests}" for p in PAYLOADS)
        + f". Rows from {served.project.name}'s data, the same for every server."
    )
    return [
        *server_cases(ours(level), generated_service(served), served.rows, context.notes),
        *server_cases(MLFLOW, mlflow_server(served), served.rows, context.notes),
        *server_cases(STUB, stub_server(), served.rows, context.notes),
    ]


def ratios(results: Results, level: int = 3) -> dict[str, tuple[float, str]]:
    found = {}
    for payload in PAYLOADS:
        for label, _ in METRICS:
            baseline = results.get(case_name(MLFLOW, payload, label))
            for server in (ours(level), MLFLOW):
                name = case_name(server, payload, label)
                value = ratio(results.get(name), baseline)
                if value is not None:
                    found[name] = (value, f"vs {MLFLOW}")
    return found


def targets(results: Results, level: int = 3) -> list[Target]:
    goals = {
        "requests/s": f"at least {TARGET_RPS_RATIO:.0f}x the requests/s of {MLFLOW}",
        "p99": f"p99 at most 1/{1 / TARGET_P99_RATIO:.0f} of {MLFLOW}'s",
    }
    found = []
    for payload in PAYLOADS:
        for label, goal in goals.items():
            value = ratio(
                results.get(case_name(ours(level), payload, label)),
                results.get(case_name(MLFLOW, payload, label)),
            )
            name = f"{ours(level)}, {payload.name}: {goal}"
            if value is None:
                found.append(Target(name, "not measured", None))
                continue
            met = value >= TARGET_RPS_RATIO if label == "requests/s" else value <= TARGET_P99_RATIO
            found.append(Target(name, f"{value:.2f}x", met))
    return found


COMPARISON = Comparison(
    name="serving",
    title=f"Serving the champion: the generated service vs {MLFLOW}",
    setup=setup,
    targets=targets,
    ratios=ratios,
)


# --- Prediction logging: level 4's service with its log on and off -----------------------

LOG_ON = "level-4 `serve`, prediction log on"
LOG_OFF = "level-4 `serve`, prediction log off"
# The bound on what logging may cost: under a 20% drop in requests/s.
TARGET_LOG_RPS_RATIO = 0.8


def logging_setup(context: Context) -> list[Case]:
    served = prepare(context, 4)
    params = served.project / "params.yaml"
    without_log = served.project / "params-without-log.yaml"
    text = params.read_text(encoding="utf-8")
    if "\n  log: true\n" not in text:
        raise CommandFailed("params.yaml has no `predictions.log: true` to turn off")
    without_log.write_text(text.replace("\n  log: true\n", "\n  log: false\n"))
    context.notes.append(
        "Prediction log: the project's default, SQLite in data/predictions.db; the "
        "same load as the serving comparison."
    )
    return [
        *server_cases(LOG_ON, generated_service(served), served.rows, context.notes),
        *server_cases(LOG_OFF, generated_service(served, without_log), served.rows, context.notes),
    ]


def logging_ratios(results: Results) -> dict[str, tuple[float, str]]:
    found = {}
    for payload in PAYLOADS:
        for label, _ in METRICS:
            name = case_name(LOG_ON, payload, label)
            value = ratio(results.get(name), results.get(case_name(LOG_OFF, payload, label)))
            if value is not None:
                found[name] = (value, "vs the log off")
    return found


def logging_targets(results: Results) -> list[Target]:
    found = []
    for payload in PAYLOADS:
        value = ratio(
            results.get(case_name(LOG_ON, payload, "requests/s")),
            results.get(case_name(LOG_OFF, payload, "requests/s")),
        )
        name = f"prediction log, {payload.name}: requests/s drop under 20%"
        if value is None:
            found.append(Target(name, "not measured", None))
            continue
        found.append(Target(name, f"{1 - value:.0%} drop", value >= TARGET_LOG_RPS_RATIO))
    return found


LOGGING = Comparison(
    name="prediction-log",
    title="Prediction logging: the level-4 service with its log on and off",
    setup=logging_setup,
    targets=logging_targets,
    ratios=logging_ratios,
)


# --- The stub server ---------------------------------------------------------------------


class _Stub(asyncio.Protocol):
    """Answers every request with 200 and `{}`, having read its whole body."""

    ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(self.buffer[:end]).lower()
            start = head.find(b"content-length:")
            length = int(head[start + 15 :].split(b"\r\n", 1)[0]) if start >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            del self.buffer[: end + 4 + length]
            self.transport.write(self.ANSWER)


async def _serve_stub(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(_Stub, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__" and sys.argv[1:2] == ["stub"]:
    asyncio.run(_serve_stub(int(sys.argv[2])))
