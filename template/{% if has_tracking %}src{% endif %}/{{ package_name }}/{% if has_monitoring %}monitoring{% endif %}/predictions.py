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
`label`. `monitor` and `retrain` read the log back and join the labels to it.
"""

import logging
import os
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import orjson
import pandas as pd
import sqlalchemy as sa
import yaml

from ..config import Settings, _section

logger = logging.getLogger(__name__)

URL_VARIABLE = "PREDICTION_LOG_URL"
KEY = ["request_id", "row"]

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
# What read_predictions returns, one row per prediction, before the inputs.
LOG_COLUMNS = [
    "request_id",
    "row",
    "logged_at",
    "model_name",
    "model_version",
    "prediction",
]
LABELS = "labels"

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


@dataclass(frozen=True)
class _PredictionsSection:
    log: bool
    url: str
    labels: str


@dataclass(frozen=True)
class PredictionSettings:
    """Whether to log predictions, where to, and where labels arrive."""

    log: bool
    url: str
    labels: Path


def load_prediction_settings(path: Path) -> PredictionSettings:
    """Read the `predictions` section of params.yaml; $PREDICTION_LOG_URL wins."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path.name} must hold a mapping of sections.")
    values = _section(raw, "predictions", _PredictionsSection, path)
    if not isinstance(values["log"], bool):
        raise ValueError(f"{path.name}: predictions.log must be true or false.")
    root = path.resolve().parent
    url = os.environ.get(URL_VARIABLE) or str(values["url"])
    return PredictionSettings(
        log=values["log"],
        url=resolve_url(url, root),
        labels=root / str(values["labels"]),
    )


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
    try:
        engine = sa.create_engine(url)
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


def read_predictions(url: str, since: datetime | None = None) -> pd.DataFrame:
    """Logged predictions, since `since` if given: one row each, with the log's
    columns (LOG_COLUMNS), then one per input."""
    engine = connect(url)
    try:
        if not sa.inspect(engine).has_table(PREDICTIONS.name):
            return pd.DataFrame(columns=LOG_COLUMNS)
        query = sa.select(PREDICTIONS).order_by(PREDICTIONS.c.logged_at)
        if since is not None:
            query = query.where(PREDICTIONS.c.logged_at >= _naive_utc(since))
        with engine.connect() as connection:
            requests = connection.execute(query).all()
    finally:
        engine.dispose()
    log, inputs = [], []
    for request in requests:
        rows = orjson.loads(request.inputs)["rows"]
        predictions = orjson.loads(request.predictions)
        for position, (row, prediction) in enumerate(
            zip(rows, predictions, strict=True)
        ):
            log.append(
                (
                    request.request_id,
                    position,
                    request.logged_at,
                    request.model_name,
                    request.model_version,
                    prediction,
                )
            )
            inputs.append(row)
    if not log:
        return pd.DataFrame(columns=LOG_COLUMNS)
    frame = pd.DataFrame(log, columns=LOG_COLUMNS)
    frame["logged_at"] = pd.to_datetime(frame["logged_at"]).dt.tz_localize(UTC)
    return pd.concat([frame, pd.DataFrame(inputs)], axis="columns")


def read_labels(url: str, labels_file: Path) -> pd.DataFrame:
    """Labels from the CSV file and the database's `labels` table, whichever exist."""
    parts = []
    if labels_file.is_file():
        parts.append(pd.read_csv(labels_file))
    engine = connect(url)
    try:
        if sa.inspect(engine).has_table(LABELS):
            with engine.connect() as connection:
                parts.append(pd.read_sql_table(LABELS, connection))
    finally:
        engine.dispose()
    for part in parts:
        missing = {*KEY, "label"} - set(part.columns)
        if missing:
            raise ValueError(
                "Labels need the columns request_id, row and label; "
                f"missing {sorted(missing)}."
            )
    if not parts:
        return pd.DataFrame(columns=[*KEY, "label"])
    labels = pd.concat([part[[*KEY, "label"]] for part in parts], ignore_index=True)
    labels["request_id"] = labels["request_id"].astype(str)
    labels["row"] = labels["row"].astype(int)
    # A database may hand labels back as text: numbers are numbers again.
    numbers = pd.to_numeric(labels["label"], errors="coerce")
    if numbers.notna().all():
        labels["label"] = numbers
    # A label that arrives twice counts once: the latest wins.
    return labels.drop_duplicates(KEY, keep="last")


def labelled_rows(
    predictions: pd.DataFrame, labels: pd.DataFrame, target: str
) -> pd.DataFrame:
    """The logged inputs that have a label, as training rows: features and `target`."""
    joined = predictions.merge(labels, on=KEY, how="inner")
    features = [c for c in predictions.columns if c not in LOG_COLUMNS]
    rows = joined[features].copy()
    rows[target] = joined["label"].to_numpy()
    return rows.reset_index(drop=True)


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def log_url(settings: Settings) -> str | None:
    """The prediction log's database URL, or None when logging is off.

    $PREDICTION_LOG_URL wins over `predictions.url`; a relative SQLite path is
    relative to the project's root.
    """
    if not settings.predictions.log:
        return None
    url = os.environ.get(URL_VARIABLE) or settings.predictions.url
    return resolve_url(url, settings.root)
