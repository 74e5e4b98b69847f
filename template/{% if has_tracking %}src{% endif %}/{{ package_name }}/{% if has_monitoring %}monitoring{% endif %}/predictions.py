"""The prediction log: every row the service scores, in a SQL database.

Each answered request is logged, in the table `predictions`, with its id, the
time (UTC), the model's name and version, its body as it came (the validated
JSON `{"rows": [...]}`) and the prediction of each row, in order: a row's
position in its request is its `row` number.
The database is a SQLAlchemy URL, `predictions.url` in params.yaml (a SQLite
file by default) or $PREDICTION_LOG_URL, which keeps a server's password out
of git.

The service hands each answered batch to `PredictionLog.record`, which only
queues it; a background thread writes what is queued a few times a second, so
a slow or unreachable database neither slows nor fails a prediction. When the
queue is full, or a write fails, the rows are dropped and counted instead.

Labels arrive later: a CSV file (`predictions.labels`) or a table named
`labels` in the same database, both with the columns `request_id`, `row` and
`label`. `monitor` and `retrain` read the log back (traffic.py) and join the
labels to it.
"""

import logging
import os
import queue
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import orjson
import sqlalchemy as sa

from ..config import Settings

logger = logging.getLogger(__name__)

URL_VARIABLE = "PREDICTION_LOG_URL"

# One row per request: a row per prediction would cost more to write than the
# prediction costs to make.
metadata = sa.MetaData()
PREDICTIONS = sa.Table(
    "predictions",
    metadata,
    sa.Column("request_id", sa.String(32), primary_key=True),
    # Naive UTC: SQLite keeps no time zone, and every backend compares the same.
    sa.Column("logged_at", sa.DateTime, nullable=False, index=True),
    sa.Column("model_name", sa.String(256), nullable=False),
    sa.Column("model_version", sa.String(32), nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    # The request's body, validated: JSON {"rows": [{column: value, ...}, ...]}.
    # Kept as it came, it costs nothing to write.
    sa.Column("inputs", sa.Text, nullable=False),
    # JSON: the prediction of each row, in the same order.
    sa.Column("predictions", sa.Text, nullable=False),
)

# Rows waiting to be written, at most; beyond that the service drops them.
MAX_QUEUED_ROWS = 100_000
# How often the writer writes what is queued, in seconds.
FLUSH_SECONDS = 0.25


class Batch(NamedTuple):
    """One answered /predict request, as the request path queues it."""

    request_id: str
    logged_at: datetime
    model_name: str
    model_version: str
    body: bytes
    row_count: int
    predictions: Any


def database_url(settings: Settings) -> str:
    """The log's database: $PREDICTION_LOG_URL if set, else `predictions.url`."""
    url = os.environ.get(URL_VARIABLE) or settings.predictions.url
    return resolve_url(url, settings.root)


def log_url(settings: Settings) -> str | None:
    """Where the service logs what it scores; None when `predictions.log` is false."""
    return database_url(settings) if settings.predictions.log else None


def labels_file(settings: Settings) -> Path:
    """The CSV file that labels arrive in (`predictions.labels`)."""
    return settings.root / settings.predictions.labels


def resolve_url(url: str, root: Path) -> str:
    """The URL with a relative SQLite path made relative to `root`, not the cwd."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as error:
        raise ValueError(f"Not a SQLAlchemy database URL: {url!r}") from error
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return url
    if not Path(database).is_absolute():
        parsed = parsed.set(database=str(root / database))
    return parsed.render_as_string(hide_password=False)


def connect(url: str) -> sa.Engine:
    """An engine for the log; SQLite in WAL mode, so readers never block the writer."""
    # sqlite3 keeps up to 128 statements prepared per connection, and each batch
    # size is a statement of its own (one INSERT of n rows): the cache held some
    # 30 MB for good, which showed as RSS growing under steady load.
    sqlite = sa.make_url(url).get_backend_name() == "sqlite"
    options = {"connect_args": {"cached_statements": 0}} if sqlite else {}
    try:
        engine = sa.create_engine(url, **options)
    except ModuleNotFoundError as error:
        raise ValueError(
            f"The prediction log's database needs the Python driver {error.name!r}: "
            "add it to the project (`uv add <its package>`)."
        ) from error
    if engine.dialect.name == "sqlite":
        # Each write as one INSERT of many rows, as SQLAlchemy already does with
        # psycopg2. Row by row, the sqlite3 driver hands the GIL to the request
        # path and back at every row: the log cost the service 21 % of its
        # requests per second at one row per request, and 14 % in one statement.
        engine.dialect.use_insertmanyvalues_wo_returning = True

        @sa.event.listens_for(engine, "connect")
        def _wal(connection: Any, _record: Any) -> None:
            connection.execute("PRAGMA journal_mode=WAL")
            # In WAL mode this loses no data on a crash of the process, only
            # the last writes on a power cut, and spares a disk sync per write.
            connection.execute("PRAGMA synchronous=NORMAL")

    return engine


class PredictionLog:
    """Queue answered batches on the request path; write them from a thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.written = 0
        self.dropped = 0
        self._engine = connect(url)
        self._queue: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        # The request path adds to this count and the writer takes from it.
        self._queued_rows = 0
        self._count_lock = threading.Lock()
        self._table_ready = False
        self._writer = threading.Thread(
            target=self._write_queued, name="prediction-log", daemon=True
        )

    def start(self) -> None:
        self._writer.start()

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
                return
            self._queued_rows += rows
        logged_at = datetime.now(UTC).replace(tzinfo=None)
        self._queue.put(
            Batch(
                request_id,
                logged_at,
                model_name,
                model_version,
                body,
                rows,
                predictions,
            )
        )

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer."""
        if self._writer.is_alive():
            self._queue.put(None)
            self._writer.join(timeout)
        self._engine.dispose()

    def _write_queued(self) -> None:
        stop = False
        while not stop:
            batches = [self._queue.get()]
            # One write for all that arrives meanwhile: its cost is shared.
            time.sleep(FLUSH_SECONDS)
            while not self._queue.empty():
                batches.append(self._queue.get_nowait())
            stop = None in batches
            self._write([batch for batch in batches if batch is not None])

    def _write(self, batches: list[Batch]) -> None:
        rows = sum(batch.row_count for batch in batches)
        with self._count_lock:
            self._queued_rows -= rows
        if not batches:
            return
        records = [
            {
                "request_id": batch.request_id,
                "logged_at": batch.logged_at,
                "model_name": batch.model_name,
                "model_version": batch.model_version,
                "row_count": batch.row_count,
                "inputs": batch.body.decode(),
                "predictions": orjson.dumps(
                    np.asarray(batch.predictions).tolist()
                ).decode(),
            }
            for batch in batches
        ]
        try:
            if not self._table_ready:
                PREDICTIONS.create(self._engine, checkfirst=True)
                self._table_ready = True
            with self._engine.begin() as connection:
                connection.execute(PREDICTIONS.insert(), records)
        except sa.exc.SQLAlchemyError as error:
            with self._count_lock:
                self.dropped += rows
            # The driver's message, not SQLAlchemy's, which quotes every input.
            reason = getattr(error, "orig", None) or error
            logger.warning("Dropped %d logged predictions: %s", rows, reason)
            return
        self.written += rows
