"""The prediction log's writer, and the service's start-up hook that drives it.

The request path only queues each answered batch (`PredictionLog.record`); a
thread writes what is queued every `flush_seconds`, or as soon as `flush_rows`
rows wait. Whatever goes wrong with the database (a full disk, a read-only
file or folder, a server that is down) costs rows, never the service: they are
dropped, counted in /metrics and warned about once, and the writer tries again
with the next rows. A SQLite file that is deleted or replaced is opened again
by its path. Only a hard kill loses rows uncounted: those still queued, which
is one flush window while the writer keeps up.
"""

import asyncio
import logging
import queue
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from ..serving.app import Service
from .log_file import WatchedFile, sqlite_file
from .predictions import PREDICTIONS, Batch, connect, records

logger = logging.getLogger(__name__)

# Rows waiting to be written, at most; beyond that the service drops them.
MAX_QUEUED_ROWS = 100_000
# params.yaml's `predictions.flush_seconds` and `flush_rows`, as generated.
FLUSH_SECONDS = 0.25
FLUSH_ROWS = 1_000


class PredictionLog:
    """Queue answered batches on the request path; write them from a thread."""

    def __init__(
        self,
        url: str,
        flush_seconds: float = FLUSH_SECONDS,
        flush_rows: int = FLUSH_ROWS,
    ) -> None:
        self.url = url
        self.written = 0
        self.dropped = 0
        self.reopened = 0
        # Why the last write failed; "" while writes succeed.
        self.last_error = ""
        self._flush_seconds = flush_seconds
        self._flush_rows = flush_rows
        self._engine = connect(url)
        path = sqlite_file(url)
        self._file = WatchedFile(path) if path is not None else None
        self._queue: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        # Set when `flush_rows` rows wait: the writer need not wait any longer.
        self._due = threading.Event()
        # The request path adds to these and the writer takes from them.
        self._queued_rows = 0
        self._writing_rows = 0
        self._overflowed = 0
        self._count_lock = threading.Lock()
        self._table_ready = False
        self._writer = threading.Thread(
            target=self._write_queued, name="prediction-log", daemon=True
        )

    def start(self) -> None:
        self._writer.start()

    def status(self) -> dict[str, Any]:
        """Rows written, dropped and waiting, and why writes fail, if they do."""
        return {
            "written": self.written,
            "dropped": self.dropped,
            # What a hard kill would lose: the rows waiting and those being written.
            "queued": self._queued_rows + self._writing_rows,
            "reopened": self.reopened,
            "last_error": self.last_error,
        }

    def record(
        self,
        request_id: str,
        model_name: str,
        model_version: str,
        body: bytes,
        predictions: Sequence[Any],
    ) -> None:
        """Queue one answered request: its validated body and its predictions.

        Never blocks, never raises.
        """
        rows = len(predictions)
        with self._count_lock:
            if self._queued_rows + rows > MAX_QUEUED_ROWS:
                self.dropped += rows
                # Warned about by the writer: logging here would slow every
                # request while the queue is full.
                self._overflowed += rows
                return
            self._queued_rows += rows
            due = self._queued_rows >= self._flush_rows
        logged_at = datetime.now(UTC).replace(tzinfo=None)
        batch = Batch(
            request_id, logged_at, model_name, model_version, body, rows, predictions
        )
        self._queue.put(batch)
        if due:
            self._due.set()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer."""
        if self._writer.is_alive():
            self._queue.put(None)
            self._due.set()
            self._writer.join(timeout)
        if self._writer.is_alive():
            with self._count_lock:
                lost = self._queued_rows + self._writing_rows
                self._queued_rows = self._writing_rows = 0
                self.dropped += lost
            logger.warning("The prediction log lost %d rows still queued at exit", lost)
        self._engine.dispose()

    def _write_queued(self) -> None:
        stop = False
        while not stop:
            batches = [self._queue.get()]
            # One write for all that arrives meanwhile: its cost is shared.
            self._due.wait(self._flush_seconds)
            self._due.clear()
            while not self._queue.empty():
                batches.append(self._queue.get_nowait())
            stop = None in batches
            self._warn_of_overflow()
            self._write([batch for batch in batches if batch is not None])

    def _write(self, batches: list[Batch]) -> None:
        rows = sum(batch.row_count for batch in batches)
        with self._count_lock:
            self._queued_rows -= rows
            self._writing_rows = rows
        if not batches:
            return
        # Any error at all: a fault of the log must cost rows, never the writer
        # thread, which would leave every later row to pile up in the queue.
        try:
            # Rows that a write puts in the file while it is deleted go with it,
            # as those written just before do: the ones after go to a new file.
            self._reopen_if_moved()
            self._insert(records(batches))
        except Exception as error:
            self._drop(rows, error)
            # A connection may hold a file deleted before its identity was
            # known, or a broken link to a server: the next write opens anew.
            self._close_connections()
            return
        finally:
            self._writing_rows = 0
        self.written += rows
        if self.last_error:
            logger.warning(
                "The prediction log writes again (%d rows dropped in all)", self.dropped
            )
            self.last_error = ""

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        if not self._table_ready:
            PREDICTIONS.create(self._engine, checkfirst=True)
            self._table_ready = True
            if self._file is not None:
                self._file.opened()
        with self._engine.begin() as connection:
            connection.execute(PREDICTIONS.insert(), rows)

    def _reopen_if_moved(self) -> None:
        """Open the file at the path again if it is no longer the one written to."""
        moved = self._file.change() if self._file is not None else ""
        if moved:
            logger.warning(
                "The prediction log %s %s: opening it again", self._file.path, moved
            )
            self._close_connections()
            self.reopened += 1

    def _close_connections(self) -> None:
        # The pool's connections hold the old file; new ones open the path,
        # and create the file and its table if they are gone.
        self._engine.dispose()
        self._table_ready = False

    def _drop(self, rows: int, error: Exception) -> None:
        with self._count_lock:
            self.dropped += rows
        # The driver's message, not SQLAlchemy's, which quotes every input.
        reason = str(getattr(error, "orig", None) or error) or type(error).__name__
        # Warned once per kind of fault, not at every write while it lasts.
        if reason != self.last_error:
            logger.warning(
                "The prediction log dropped %d rows (%d in all): %s",
                rows,
                self.dropped,
                reason,
            )
        self.last_error = reason

    def _warn_of_overflow(self) -> None:
        with self._count_lock:
            overflowed, self._overflowed = self._overflowed, 0
        if overflowed:
            logger.warning(
                "The prediction log dropped %d rows: more than %d were waiting",
                overflowed,
                MAX_QUEUED_ROWS,
            )


@asynccontextmanager
async def log_predictions(log: PredictionLog, service: Service) -> AsyncIterator[None]:
    """Hand every answered batch to `log` while the app runs."""
    gauges = {
        "written_rows": ("Scored rows written to the log", "written"),
        "dropped_rows": ("Scored rows that the log could not keep", "dropped"),
        "queued_rows": (
            "Scored rows not yet written to the log: what a hard kill would lose",
            "queued",
        ),
        "reopened": (
            "Times the log's file, deleted or replaced, was reopened",
            "reopened",
        ),
    }
    for name, (description, key) in gauges.items():
        service.metrics.gauge(
            f"prediction_log_{name}", description, lambda key=key: log.status()[key]
        )
    service.metrics.gauge(
        "prediction_log_failing",
        "1 while the prediction log's writes fail, else 0",
        lambda: float(bool(log.last_error)),
    )
    log.start()
    service.listeners.append(log.record)
    service.details["prediction_log"] = log.status
    try:
        yield
    finally:
        service.listeners.remove(log.record)
        del service.details["prediction_log"]
        # Off the event loop: it waits for the writer to empty the queue.
        await asyncio.to_thread(log.close)
