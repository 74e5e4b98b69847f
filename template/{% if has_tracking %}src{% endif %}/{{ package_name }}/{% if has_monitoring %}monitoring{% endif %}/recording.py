"""The prediction log as the service's start-up hook (serving/server.py adds it)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..serving.app import Service
from .predictions import PredictionLog


@asynccontextmanager
async def log_predictions(log: PredictionLog, service: Service) -> AsyncIterator[None]:
    """Hand every answered batch to `log` while the app runs."""
    service.metrics.gauge(
        "prediction_log_dropped_rows",
        "Scored rows that the prediction log could not keep",
        lambda: log.dropped,
    )
    log.start()
    service.listeners.append(log.record)
    try:
        yield
    finally:
        service.listeners.remove(log.record)
        # Off the event loop: it waits for the writer to empty the queue.
        await asyncio.to_thread(log.close)
