"""Hot swap: the service follows the registry's `champion` alias, no restart.

Every `hot_swap.interval_seconds` the service asks the registry which version
`champion` points to. When the alias has moved (a retrain promoted a model, or
a rollback), the new version is loaded in a worker thread while the old one
keeps answering, then swapped in with one assignment. Each request uses the
model it started with, so no request fails during the switch.

A version that cannot load keeps the old one serving, and the next check tries
again. A champion whose columns differ from the served one's is not swapped
in: its clients would have to change too, which is a release, not a swap.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ..config import Settings
from ..serving.app import Service
from ..serving.model import Served, load_champion
from ..serving.registry import CHAMPION
from ..tracking import tracking_uri

logger = logging.getLogger(__name__)


@asynccontextmanager
async def keep_champion_current(
    settings: Settings, service: Service
) -> AsyncIterator[None]:
    """A start-up hook of the app: check the alias while the service runs."""
    swapper = Swapper(settings, service)
    task = asyncio.create_task(swapper.watch(settings.hot_swap.interval_seconds))
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


class Swapper:
    """Swaps the champion into a running service when the alias moves."""

    def __init__(self, settings: Settings, service: Service) -> None:
        self.settings = settings
        self.service = service
        self.client = MlflowClient(tracking_uri(settings.root))
        # The version last refused for its columns, not tried again.
        self.refused: str | None = None

    async def watch(self, interval: float) -> None:
        """Check every `interval` seconds, until cancelled."""
        while True:
            await asyncio.sleep(interval)
            await self.check()

    async def check(self) -> None:
        """Swap in the alias's version if it moved and can serve."""
        served = self.service.served
        current = served.champion.version if served is not None else None
        try:
            version = await asyncio.to_thread(
                self.client.get_model_version_by_alias,
                self.settings.registry.model_name,
                CHAMPION,
            )
            if str(version.version) in {current, self.refused}:
                return
            new = await asyncio.to_thread(self.load)
        except (MlflowException, OSError, ValueError) as error:
            logger.warning("Hot swap: cannot load the %s: %s", CHAMPION, error)
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
        logger.info("Hot swap: now serving %s (was version %s)", new.summary(), current)

    def load(self) -> Served:
        """The champion, loaded and its scorer built, off the event loop."""
        champion = load_champion(self.settings)
        return Served(champion, self.settings.serving.max_batch_size)
