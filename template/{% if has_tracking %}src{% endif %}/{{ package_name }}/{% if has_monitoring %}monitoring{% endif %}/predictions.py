"""The prediction log: every row the service scores, in a SQL database.

Each answered request is logged, in the table `predictions`, with its id, the
time (UTC), the model's name and version, its body as it came (the validated
JSON `{"rows": [...]}`) and the prediction of each row, in order: a row's
position in its request is its `row` number.
The database is a SQLAlchemy URL, `predictions.url` in params.yaml (a SQLite
file by default) or $PREDICTION_LOG_URL, which keeps a server's password out
of git.

The service hands each answered batch to the log's writer (recording.py),
which writes it off the request path.

Labels arrive later: a CSV file (`predictions.labels`) or a table named
`labels` in the same database, both with the columns `request_id`, `row` and
`label`. `monitor` and `retrain` read the log back (traffic.py) and join the
labels to it.
"""

import os
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import orjson
import sqlalchemy as sa

from ..config import Settings

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
    """An engine for the log; SQLite with a rollback journal and no mmap."""
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
        def _journal(connection: Any, _record: Any) -> None:
            # Not WAL: WAL maps its -shm file into memory, and a page of it that
            # the disk can no longer back (a full or read-only volume) kills the
            # whole process with SIGBUS. A rollback journal only reads and
            # writes, so such faults come back as errors, which the writer
            # counts. It costs 17 ms instead of 2-7 ms per write of 250 rows,
            # off the request path and shared by every row of a write; and a
            # reader (monitor, retrain) makes the writer wait while it reads,
            # for up to the driver's 5 s timeout. DELETE, SQLite's default,
            # leaves no file beside the log between writes; TRUNCATE was no
            # faster (17.8 ms).
            connection.execute("PRAGMA journal_mode=DELETE")
            connection.execute("PRAGMA mmap_size=0")

    return engine


def records(batches: list[Batch]) -> list[dict[str, Any]]:
    """The table's rows for `batches`, one per request."""
    return [
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
