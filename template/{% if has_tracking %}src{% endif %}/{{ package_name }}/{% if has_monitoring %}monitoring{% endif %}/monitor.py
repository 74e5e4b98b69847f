"""The `monitor` command: has the traffic drifted away from the training data?

It compares the rows the service logged in a recent window (traffic.py) with
the training data, column by column, with Evidently's data drift tests
(drift.py).
The data has drifted when at least `monitoring.drift_share` of its columns
have. When labels have arrived for rows in the window, it also scores the
predictions the service made for them, since drift alone does not say whether
the model got worse.

The exit code carries the verdict, so a scheduled job can act on it:
0 no drift, 1 drift, 2 too little data (fewer than `monitoring.min_rows` rows
in the window) or an error.

It writes, in reports/monitoring/ at the project root:
- drift.html: Evidently's drift report, one file that opens offline;
- performance.html: Evidently's classification report, when there are labels;
- summary.json: the verdict for scripts, with these keys:
  drifted (bool), drift_share (share of columns that drifted),
  drift_share_threshold (monitoring.drift_share), drifted_columns (names),
  columns (how many were compared), rows (in the window), reference_rows,
  window {since, until} (ISO 8601, UTC), model_versions (that served the rows),
  performance ({rows, accuracy, precision, recall, f1} on the labelled rows,
  or null), reports {drift, performance (or null)} (paths from the project
  root), exit_code, mlflow_run_id.
All of them are logged to MLflow too, as a run named `monitor` in the
project's experiment.
"""

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlflow
import pandas as pd

from ..config import Settings
from ..data import load_dataset
from ..tracking import start_tracking
from .drift import measure_drift, measure_performance, write_reports
from .traffic import KEY, read_logged

NO_DRIFT, DRIFT, UNUSABLE = 0, 1, 2
REPORT_FOLDER = Path("reports") / "monitoring"
DRIFT_REPORT = REPORT_FOLDER / "drift.html"
PERFORMANCE_REPORT = REPORT_FOLDER / "performance.html"
SUMMARY_FILE = REPORT_FOLDER / "summary.json"
RUN_NAME = "monitor"
# The columns a summary names at most; summary.json names them all.
SHOWN_COLUMNS = 5


class TooLittleData(Exception):
    """The window holds too few rows to judge drift either way."""


@dataclass(frozen=True)
class Summary:
    """What summary.json holds (see the module's docstring)."""

    drifted: bool
    drift_share: float
    drift_share_threshold: float
    drifted_columns: list[str]
    columns: int
    rows: int
    reference_rows: int
    window: dict[str, str]
    model_versions: list[str]
    performance: dict[str, float] | None
    reports: dict[str, str | None]
    exit_code: int
    mlflow_run_id: str


def monitor(
    settings: Settings, since: datetime | None, say: Callable[[str], None] = print
) -> Summary:
    """Judge the window's drift (and performance), write the reports, log the run.

    `since` defaults to monitoring.window_days ago; `say` hears of each step.
    Raises TooLittleData when the window has fewer than monitoring.min_rows rows.
    """
    until = datetime.now(UTC)
    # The summary and the report speak UTC, whatever zone --since was given in.
    window = timedelta(days=settings.monitoring.window_days)
    since = (since or until - window).astimezone(UTC)
    reference = load_dataset(settings.data_file, settings.data.target)
    say(f"monitor: reading the rows logged since {since:%Y-%m-%d %H:%M} UTC")
    log, labels = read_logged(settings, since)
    if len(log) < settings.monitoring.min_rows:
        raise TooLittleData(
            f"too little data: {len(log)} rows logged since {since:%Y-%m-%d %H:%M} "
            f"UTC, and monitoring.min_rows is {settings.monitoring.min_rows}. Wait "
            "for more traffic, or widen the window with --since or "
            "monitoring.window_days."
        )
    current = feature_columns(log, list(reference.features.columns))
    say(f"monitor: testing {current.shape[1]} columns of {len(current)} rows for drift")
    drift, drift_run = measure_drift(
        reference.features, current, settings.monitoring.drift_share
    )
    labelled = log.merge(labels, on=KEY).dropna(subset=["label"])
    performance, performance_run = None, None
    if len(labelled):
        say(f"monitor: scoring the {len(labelled)} predictions that have a label")
        performance, performance_run = measure_performance(labelled, reference.labels)
    root = settings.root
    write_reports(
        drift_run, performance_run, root / DRIFT_REPORT, root / PERFORMANCE_REPORT
    )
    summary = Summary(
        drifted=drift.drifted,
        drift_share=drift.share,
        drift_share_threshold=settings.monitoring.drift_share,
        drifted_columns=drift.drifted_columns,
        columns=drift.columns,
        rows=len(current),
        reference_rows=len(reference.frame),
        window={"since": since.isoformat(), "until": until.isoformat()},
        model_versions=sorted(log["model_version"].astype(str).unique()),
        performance=performance,
        reports={
            "drift": DRIFT_REPORT.as_posix(),
            "performance": PERFORMANCE_REPORT.as_posix() if performance else None,
        },
        exit_code=DRIFT if drift.drifted else NO_DRIFT,
        mlflow_run_id="",
    )
    return record(settings, summary)


def record(settings: Settings, summary: Summary) -> Summary:
    """Log the run to MLflow and write summary.json, which names the run."""
    experiment_id = start_tracking(settings.root, settings.tracking.experiment)
    with mlflow.start_run(experiment_id=experiment_id, run_name=RUN_NAME) as run:
        summary = replace(summary, mlflow_run_id=run.info.run_id)
        summary_file = settings.root / SUMMARY_FILE
        summary_file.write_text(json.dumps(asdict(summary), indent=2) + "\n")
        log_run(settings, summary)
    return summary


def feature_columns(log: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The logged inputs, as the training data's feature columns in their order."""
    missing = [column for column in columns if column not in log.columns]
    if missing:
        raise ValueError(
            f"The logged rows lack {len(missing)} of the training data's feature "
            f"columns ({', '.join(missing[:SHOWN_COLUMNS])}): the model the "
            "service ran takes other inputs than the data in params.yaml."
        )
    return log[columns].reset_index(drop=True)


def log_run(settings: Settings, summary: Summary) -> None:
    """The verdict and the reports, as MLflow params, metrics, tags and artifacts."""
    values = settings.monitoring.model_dump()
    mlflow.log_params({f"monitoring.{key}": value for key, value in values.items()})
    metrics = {
        "drift_share": summary.drift_share,
        "drifted_columns": len(summary.drifted_columns),
        "rows": summary.rows,
    }
    if summary.performance is not None:
        metrics |= {
            f"labelled_{key}": value for key, value in summary.performance.items()
        }
    mlflow.log_metrics(metrics)
    mlflow.set_tags(
        {
            "monitor.verdict": "drift" if summary.drifted else "no drift",
            "monitor.since": summary.window["since"],
            "monitor.until": summary.window["until"],
        }
    )
    files = [SUMMARY_FILE, *(Path(path) for path in summary.reports.values() if path)]
    for file in files:
        mlflow.log_artifact(str(settings.root / file), artifact_path="monitoring")


def summary_lines(summary: Summary) -> list[str]:
    """The window, the drift, the performance, the verdict and where to look."""
    lines = []
    since, until = (
        datetime.fromisoformat(summary.window[key]) for key in ("since", "until")
    )
    versions = ", ".join(summary.model_versions)
    lines.append(
        f"monitor: {summary.rows} rows logged from {since:%Y-%m-%d %H:%M} to "
        f"{until:%Y-%m-%d %H:%M} UTC (model version {versions}), against "
        f"{summary.reference_rows} training rows"
    )
    drifted = summary.drifted_columns
    names = ", ".join(drifted[:SHOWN_COLUMNS])
    if len(drifted) > SHOWN_COLUMNS:
        names += f" and {len(drifted) - SHOWN_COLUMNS} more"
    lines.append(
        f"  drift        {len(drifted)} of {summary.columns} columns "
        f"(share {summary.drift_share:.2f}, threshold "
        f"{summary.drift_share_threshold:.2f}){': ' + names if names else ''}"
    )
    if summary.performance is None:
        lines.append("  performance  no labels yet for these rows")
    else:
        scores = "  ".join(
            f"{name} {value:.4f}"
            for name, value in summary.performance.items()
            if name != "rows"
        )
        lines.append(
            f"  performance  on {summary.performance['rows']} labelled rows: {scores}"
        )
    verdict = "DRIFT" if summary.drifted else "no drift"
    lines.append(f"  verdict      {verdict} (exit code {summary.exit_code})")
    reports = [path for path in summary.reports.values() if path is not None]
    lines.append(f"  reports      {', '.join([*reports, SUMMARY_FILE.as_posix()])}")
    lines.append(f"  MLflow run   {summary.mlflow_run_id} (run name '{RUN_NAME}')")
    return lines
