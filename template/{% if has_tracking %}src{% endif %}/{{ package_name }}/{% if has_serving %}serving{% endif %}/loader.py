"""Loading the champion into a service that already answers.

The service binds first (server.py): `/health` answers at once, whatever the
registry does, and `/ready` says why there is no model yet. The champion loads
in the background, in a thread, and is tried again every `RETRY_SECONDS` until
it serves. With `monitoring`, the hot swap keeps this same loader checking the
alias once a model serves (monitoring/hot_swap.py).

Each call to the registry is bounded: MLflow's HTTP client waits up to
`MLFLOW_HTTP_REQUEST_TIMEOUT` seconds per request and tries
`MLFLOW_HTTP_REQUEST_MAX_RETRIES` more times (server.py sets short defaults).
A failure is counted (`champion_load_failures` in /metrics), logged, and, while
no model serves, is the reason `/ready` gives.
"""

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from functools import partial

from mlflow.tracking import MlflowClient

from ..config import Settings
from ..tracking import registry_uri
from .app import Service
from .model import Served, load_champion
from .registry import CHAMPION
from .server import in_daemon_thread

logger = logging.getLogger(__name__)

# How often a service without a model asks the registry again.
RETRY_SECONDS = 5.0
# The user and password of a URL, as in http://user:password@host/.
CREDENTIALS = re.compile(r"//[^/@\s]+@")


@asynccontextmanager
async def follow_champion(
    settings: Settings, service: Service, interval: float | None = None
) -> AsyncIterator[None]:
    """A start-up hook: load the champion while the app runs; given an
    interval, keep checking the alias that often once a model serves."""
    loader = ChampionLoader(settings, service)
    task = asyncio.create_task(loader.follow(interval))
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


class ChampionLoader:
    """Loads the version that `champion` points to into `service`."""

    def __init__(self, settings: Settings, service: Service) -> None:
        self.settings = settings
        self.service = service
        self.failures = 0
        # The version last refused for its columns, not tried again.
        self.refused: str | None = None
        if service.served is None:
            service.reason = (
                f"loading the {CHAMPION} model '{settings.registry.model_name}' "
                "from the registry"
            )
        service.metrics.gauge(
            "champion_load_failures",
            "Attempts to load the champion from the registry that failed",
            lambda: self.failures,
        )

    async def follow(self, interval: float | None) -> None:
        """Check until a model serves; then every `interval` seconds, if given."""
        while True:
            await self.check()
            if self.service.served is None:
                await asyncio.sleep(min(RETRY_SECONDS, interval or RETRY_SECONDS))
            elif interval is None:
                return
            else:
                await asyncio.sleep(interval)

    async def check(self) -> None:
        """Serve the alias's version if it moved and can serve."""
        served = self.service.served
        current = served.champion.version if served is not None else None
        try:
            new = await in_daemon_thread(partial(self.load_if_moved, current))
        # Whatever the registry or the model's files do, the service stays up:
        # the error is counted, logged, and is /ready's reason.
        except Exception as error:
            self.failed(error)
            return
        if new is None:
            return
        if served is not None and new.champion.columns != served.champion.columns:
            self.refused = new.champion.version
            logger.warning(
                "Hot swap: version %s has other columns than version %s; "
                "restart the service to serve it.",
                new.champion.version,
                current,
            )
            return
        self.service.serve(new)
        if served is None:
            logger.info("Serving %s", new.summary())
        else:
            logger.info(
                "Hot swap: now serving %s (was version %s)", new.summary(), current
            )

    def load_if_moved(self, current: str | None) -> Served | None:
        """The champion, loaded and its scorer built, unless it is `current` or
        was refused. Blocking: run off the event loop."""
        name = self.settings.registry.model_name
        client = MlflowClient(registry_uri(self.settings.root))
        version = str(client.get_model_version_by_alias(name, CHAMPION).version)
        if version in {current, self.refused}:
            return None
        champion = load_champion(self.settings)
        serving = self.settings.serving
        return Served(champion, serving.max_batch_size, serving.threads)

    def failed(self, error: Exception) -> None:
        """Count and report a failed load; without a model, it is why not ready."""
        self.failures += 1
        if self.service.served is not None:
            logger.warning("Hot swap: cannot load the %s: %s", CHAMPION, error)
            return
        reason = f"no {CHAMPION} model '{self.settings.registry.model_name}' loaded: "
        # MLflow's errors name the URL they asked: no user or password in /ready.
        reason += CREDENTIALS.sub("//", str(error)) or type(error).__name__
        # Logged when it changes, not at every retry of a registry that is down.
        if reason != self.service.reason:
            logger.warning("Not ready: %s", reason)
        self.service.reason = reason
