"""The traffic that the service logged, read back for `monitor` and `retrain`.

The prediction log (predictions.py) keeps one row per request; here each
prediction becomes a row of its own, with its inputs, and the labels that have
arrived are joined to it by request id and row number.
"""

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pandas as pd
import sqlalchemy as sa

from ..config import Settings
from .predictions import PREDICTIONS, connect, database_url, labels_file

# How a label finds its prediction: the request's id and the row's position in it.
KEY = ["request_id", "row"]
# What read_predictions returns, one row per prediction, before the inputs.
LOG_COLUMNS = [
    "request_id",
    "row",
    "logged_at",
    "model_name",
    "model_version",
    "prediction",
]
# The table of labels, when they arrive in the database rather than a file.
LABELS = "labels"


def read_logged(
    settings: Settings, since: datetime | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The predictions logged (since `since`, if given), and the labels arrived."""
    url = database_url(settings)
    try:
        return read_predictions(url, since), read_labels(url, labels_file(settings))
    except sa.exc.SQLAlchemyError as error:
        where = sa.make_url(url).render_as_string(hide_password=True)
        detail = getattr(error, "orig", None) or error
        raise ValueError(f"Cannot read the prediction log {where}: {detail}") from error


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
