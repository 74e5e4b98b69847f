"""Run the serving API (app.py) under uvicorn, with what this project adds to it.

The server binds first, then builds the app: MLflow and scikit-learn take
seconds to import, more on a busy machine, and the champion comes after them,
in the background (loader.py), from the registry that $MLFLOW_TRACKING_URI
names or else from the project's mlflow.db. `/health` answers all along,
whatever the registry does, and `/ready` says what the service waits for. A
project with the `monitoring` subpackage also logs every prediction and swaps
in a new champion without a restart. Each comes as a start-up hook.

This module imports none of that at its top, so that it is quick to import.
"""

import asyncio
import gc
import importlib.util
import json
import logging
import os
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import AsyncExitStack, suppress
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import uvicorn

from ..config import Settings
from .limits import http_options
from .metrics import Metrics

if TYPE_CHECKING:
    from .app import Hook

logger = logging.getLogger(__name__)

PACKAGE = __package__.rpartition(".")[0]
# MLflow draws a progress bar for each model download unless this says not to.
PROGRESS_BAR_VARIABLE = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"

# MLflow's HTTP client waits 120 s per request and retries 7 times with a
# growing back-off: minutes per load against a registry that is down. These
# bound each attempt to about 20 s; the loader tries again after that. Set the
# variables to override them.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}

Result = TypeVar("Result")
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def in_daemon_thread(function: Callable[[], Result]) -> Result:
    """Await `function`, run in a thread of its own.

    Not asyncio.to_thread: the loop's executor is joined at shut-down, so a
    registry that hangs would hold up SIGTERM. A daemon thread is left behind.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Result] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():  # cancelled at shut-down: nobody waits any more
            outcome()

    def work() -> None:
        try:
            outcome = partial(future.set_result, function())
        except Exception as error:  # handed to the awaiting task, which reports it
            outcome = partial(future.set_exception, error)
        # The loop is closed if the service stopped meanwhile.
        with suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, outcome)

    threading.Thread(target=work, name=f"{PACKAGE}-loader", daemon=True).start()
    return await future


def project_hooks(settings: Settings) -> list["Hook"]:
    """The champion's load; the prediction log and hot swap, with `monitoring`."""
    from .loader import follow_champion

    if importlib.util.find_spec(f"{PACKAGE}.monitoring") is None:
        return [partial(follow_champion, settings)]
    # Imported only where it exists: a level-3 project has no such subpackage.
    from ..monitoring import hot_swap, predictions, recording

    hooks: list[Hook] = []
    url = predictions.log_url(settings)
    if url is not None:
        log = recording.PredictionLog(
            url, settings.predictions.flush_seconds, settings.predictions.flush_rows
        )
        hooks.append(partial(recording.log_predictions, log))
    # The hot swap makes the first load too: one loader, not two. Last in, so
    # first out at shut-down: no swap while the log closes.
    hooks.append(partial(hot_swap.keep_champion_current, settings))
    return hooks


def build_app(settings: Settings, metrics: Metrics) -> ASGIApp:
    """The service's app with its hooks: slow, it imports MLflow and scikit-learn."""
    from .app import create_app

    app = create_app(settings, None, hooks=project_hooks(settings), metrics=metrics)
    # What is imported by now stays for the process's life: out of the garbage
    # collector's sight, it costs no pause in the middle of a request.
    gc.collect()
    gc.freeze()
    return app


class Starting:
    """The ASGI app that uvicorn serves from the first instant.

    Until the app is built, in a thread, it answers /health itself and every
    other request with a 503 that says so; then it hands each request to the
    app, and enters and leaves the app's start-up hooks with the server's own
    start and stop. If the app cannot be built, `stop` ends the server.
    """

    def __init__(self, build: Callable[[], ASGIApp], stop: Callable[[], None]) -> None:
        self.build = build
        self.stop = stop
        self.app: ASGIApp | None = None
        self.error: Exception | None = None
        self.hooks = AsyncExitStack()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif self.app is not None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await self.answer_early(scope, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # the server's start
        start = asyncio.create_task(self.start())
        await send({"type": "lifespan.startup.complete"})
        await receive()  # the server's stop
        start.cancel()
        with suppress(asyncio.CancelledError):
            await start
        await self.hooks.aclose()
        await send({"type": "lifespan.shutdown.complete"})

    async def start(self) -> None:
        try:
            app = await in_daemon_thread(self.build)
            await self.hooks.enter_async_context(app.router.lifespan_context(app))
        # A misconfiguration must not pass for health: the service stops.
        except Exception as error:
            logger.error("The service cannot start: %s", error)
            self.error = error
            self.stop()
            return
        self.app = app

    async def answer_early(self, scope: Scope, send: Send) -> None:
        if scope["path"] == "/health":
            status, answer = 200, {"status": "ok"}
        else:
            reason = "starting: the service is loading its code"
            status, answer = 503, {"status": "not ready", "reason": reason}
        body = json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json")]
        await send(
            {"type": "http.response.start", "status": status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": body})


def run(settings: Settings, host: str, port: int, access_log: bool = False) -> int:
    """Serve until stopped (Ctrl+C or SIGTERM), loading the champion meanwhile."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    os.environ.setdefault(PROGRESS_BAR_VARIABLE, "false")
    for variable, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(variable, value)

    def stop() -> None:
        server.should_exit = True

    # Made before the app, which comes later: the HTTP limits count in it from
    # the first connection.
    metrics = Metrics()
    starting = Starting(partial(build_app, settings, metrics), stop)
    config = uvicorn.Config(
        starting,
        host=host,
        port=port,
        access_log=access_log,
        log_level="info",
        server_header=False,
        **http_options(metrics),
    )
    server = uvicorn.Server(config)
    server.run()
    return 1 if starting.error is not None else 0
