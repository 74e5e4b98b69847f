"""The service's start-up never waits on the registry (levels 3 and 4).

Each test starts the real service (`python -m <package> serve`, uvicorn) of an
installed project against a registry that fails in one way: none where the
container looks for one, a mistyped SQLite path, a closed port, and a server
that accepts connections and never answers. In each, /health answers while
/ready is a 503 with the reason, the process stays up, and no store is made.
The time from the process's start to its first /health is printed, not
asserted: the order of events is what the tests check.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import free_port, request, start_service

pytestmark = pytest.mark.slow

PACKAGE = "churn_model"
MODEL = "churn-model"
# How long a test waits for the service to get somewhere, at most.
PATIENCE_SECONDS = 120
LOADING = f"loading the champion model '{MODEL}' from the registry"


@dataclass
class Service:
    process: subprocess.Popen
    url: str
    log: Path
    health_seconds: float

    def get(self, path: str) -> tuple[int, dict]:
        return request(f"{self.url}{path}")


@pytest.fixture(scope="module", params=[3, 4], ids=["level-3", "level-4"])
def project(request: pytest.FixtureRequest, installed) -> Path:
    return installed(request.param)


@pytest.fixture
def serve(project: Path, tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """Start the service from `cwd` with `env`; return once /health answers."""
    started: list[Service] = []

    def start(cwd: Path, env: dict[str, str]) -> Service:
        port = free_port()
        log = tmp_path / "service.log"
        begun = time.monotonic()
        process = start_service(
            project,
            ["-m", PACKAGE, "serve", "--port", str(port)],
            port,
            log,
            env,
            cwd=cwd,
            unset=("MLFLOW_TRACKING_URI",),
            until="/health",
        )
        service = Service(process, f"http://127.0.0.1:{port}", log, 0.0)
        started.append(service)
        service.health_seconds = time.monotonic() - begun
        print(f"\n/health first answered {service.health_seconds:.2f} s after the start")
        return service

    yield start
    for service in started:
        service.process.send_signal(signal.SIGTERM)
        try:
            service.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            service.process.kill()
            pytest.fail(f"the service did not stop on SIGTERM:\n{service.log.read_text()}")


def answers(service: Service, path: str) -> bool:
    """Whether `path` answers 200; a process that exited fails the test."""
    assert service.process.poll() is None, service.log.read_text()
    with suppress(OSError):
        return service.get(path)[0] == 200
    return False


def eventually(condition: Callable[[], bool], service: Service) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, service.log.read_text()
        time.sleep(0.1)


def reason_once_loaded(service: Service) -> str:
    """/ready's reason once the service has tried the registry (and failed)."""
    reasons: list[str] = []

    def tried() -> bool:
        status, body = service.get("/ready")
        assert status == 503, body
        reasons.append(body["reason"])
        return not body["reason"].startswith(("starting:", "loading "))

    eventually(tried, service)
    return reasons[-1]


def stores(folder: Path) -> list[Path]:
    """What MLflow would make for a new SQLite store or file store."""
    return sorted(
        path
        for pattern in ("**/mlflow.db", "**/mlruns", "**/mlartifacts")
        for path in folder.glob(pattern)
    )


@pytest.fixture
def hanging_registry() -> Iterator[tuple[str, threading.Event, list[socket.socket]]]:
    """A tracking URI whose server accepts connections and never answers, an
    event set once it has accepted one, and the connections it holds."""
    asked = threading.Event()
    held: list[socket.socket] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def accept() -> None:
        with suppress(OSError):  # closed at the end of the test
            while True:
                held.append(listener.accept()[0])
                asked.set()

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", asked, held
    listener.close()
    for connection in held:
        connection.close()


def test_unset_uri_in_the_container_layout_is_a_503_not_an_exit(project, serve, tmp_path):
    """The image runs from /app with no store in it and MLFLOW_TRACKING_URI unset:
    the default, <root>/mlflow.db, does not exist and must not be made."""
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(project / "params.yaml", app / "params.yaml")

    service = serve(app, {})

    reason = reason_once_loaded(service)
    assert f"there is no MLflow store at {app / 'mlflow.db'}" in reason
    assert "MLFLOW_TRACKING_URI" in reason
    assert answers(service, "/health")
    assert stores(app) == []


def test_a_mistyped_sqlite_path_is_a_503_and_no_new_store(project, serve, tmp_path):
    mistyped = tmp_path / "registy" / "mlflow.db"

    service = serve(project, {"MLFLOW_TRACKING_URI": f"sqlite:///{mistyped}"})

    assert f"there is no MLflow store at {mistyped}" in reason_once_loaded(service)
    assert answers(service, "/health")
    assert not mistyped.parent.exists()


def test_a_registry_that_refuses_connections_is_a_503_with_the_reason(project, serve):
    closed = f"http://127.0.0.1:{free_port()}"

    service = serve(project, {"MLFLOW_TRACKING_URI": closed})

    reason = reason_once_loaded(service)
    assert reason.startswith(f"no champion model '{MODEL}' loaded: ")
    assert "Connection refused" in reason or "Max retries exceeded" in reason
    assert answers(service, "/health")
    assert "champion_load_failures 1.0" in metrics(service)


def test_health_answers_while_a_hanging_registry_holds_the_load(project, serve, hanging_registry):
    uri, asked, held = hanging_registry

    # A request longer than the test: the registry still holds it at the end.
    service = serve(project, {"MLFLOW_TRACKING_URI": uri, "MLFLOW_HTTP_REQUEST_TIMEOUT": "600"})
    assert asked.wait(PATIENCE_SECONDS), service.log.read_text()

    assert answers(service, "/health")
    status, ready = service.get("/ready")
    assert (status, ready["status"], ready["reason"]) == (503, "not ready", LOADING)
    assert "champion_load_failures 0.0" in metrics(service)
    # SIGTERM stops it while the registry has still not answered.
    service.process.send_signal(signal.SIGTERM)
    assert service.process.wait(timeout=60) in (0, -signal.SIGTERM)
    assert all(connection.fileno() != -1 for connection in held)
    assert "Finished server process" in service.log.read_text()


def metrics(service: Service) -> str:
    """/metrics, in Prometheus's text format."""
    with urllib.request.urlopen(f"{service.url}/metrics", timeout=10) as answer:
        return answer.read().decode()
