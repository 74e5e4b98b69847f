"""Has the data drifted, and how well did the model do: Evidently's reports.

Drift is judged column by column against the training data; performance on
the logged predictions whose labels have arrived, with the metrics of
evaluate.py.
"""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from evidently import (
    BinaryClassification,
    DataDefinition,
    Dataset,
    MulticlassClassification,
    Report,
    Run,
)
from evidently.presets import ClassificationQuality, DataDriftPreset

from ..evaluate import BINARY

# Evidently's classification metrics, by their type, and their names here,
# which are those of evaluate.py.
PERFORMANCE_METRICS = {
    "Accuracy": "accuracy",
    "Precision": "precision",
    "Recall": "recall",
    "F1Score": "f1",
}


@dataclass(frozen=True)
class Drift:
    """Which of the compared columns drifted, and whether that is too many."""

    columns: int
    drifted_columns: list[str]
    share: float
    drifted: bool


def measure_drift(
    reference: pd.DataFrame, current: pd.DataFrame, drift_share: float
) -> tuple[Drift, Run]:
    """Evidently's drift test on each column, and the verdict for the whole data.

    Evidently picks each column's test (Kolmogorov-Smirnov, chi-squared,
    Wasserstein distance...) from its type and the number of rows.
    """
    reference_data = Dataset.from_pandas(reference)
    # Evidently infers each column's type from the data; taking the reference's
    # types for both sides means a column is never compared as two kinds.
    current_data = Dataset.from_pandas(
        current, data_definition=reference_data.data_definition
    )
    report = Report([DataDriftPreset(drift_share=drift_share)], include_tests=True)
    run = report.run(current_data, reference_data)
    # One test per column, which fails when that column has drifted.
    column_tests = [
        test
        for test in run.dict()["tests"]
        if test["metric_config"]["params"]["type"].endswith(":ValueDrift")
    ]
    drifted = [
        test["metric_config"]["params"]["column"]
        for test in column_tests
        if test["status"] == "FAIL"
    ]
    share = len(drifted) / len(column_tests)
    # At or above the threshold, as Evidently's own dataset drift verdict.
    drift = Drift(
        columns=len(column_tests),
        drifted_columns=drifted,
        share=share,
        drifted=share >= drift_share,
    )
    return drift, run


def measure_performance(
    labelled: pd.DataFrame, target: pd.Series
) -> tuple[dict[str, float], Run]:
    """Accuracy, precision, recall and F1 of the logged predictions on their labels.

    As in evaluate.py: with two classes the second one counts as positive, with
    more precision, recall and F1 are macro averages.
    """
    rows = pd.DataFrame(
        {
            "label": as_target_values(labelled["label"], target, "labels"),
            "prediction": as_target_values(
                labelled["prediction"], target, "logged predictions"
            ),
        }
    )
    classes = sorted(target.unique().tolist())
    task = (
        BinaryClassification(
            target="label", prediction_labels="prediction", pos_label=classes[1]
        )
        if len(classes) == BINARY
        else MulticlassClassification(target="label", prediction_labels="prediction")
    )
    data = Dataset.from_pandas(
        rows,
        data_definition=DataDefinition(
            categorical_columns=["label", "prediction"], classification=[task]
        ),
    )
    run = Report([ClassificationQuality(conf_matrix=True)]).run(data, None)
    scores = {
        PERFORMANCE_METRICS[kind]: float(metric["value"])
        for metric in run.dict()["metrics"]
        if (kind := metric["config"]["type"].rsplit(":", 1)[-1]) in PERFORMANCE_METRICS
    }
    return {"rows": len(rows), **scores}, run


def as_target_values(values: pd.Series, target: pd.Series, what: str) -> pd.Series:
    """`values` as the training target's type, so that 1, 1.0 and "1" compare equal.

    Labels from a database table or a CSV file may come back as text, and the
    logged predictions as whatever JSON made of them.
    """
    try:
        if pd.api.types.is_numeric_dtype(target):
            return pd.to_numeric(values).astype(target.dtype)
        return values.astype(str)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"The {what} are not values of the target column {target.name!r}: {error}"
        ) from error


def write_reports(
    drift: Run, performance: Run | None, drift_page: Path, performance_page: Path
) -> None:
    """Evidently's pages, each one self-contained HTML that opens offline."""
    drift_page.parent.mkdir(parents=True, exist_ok=True)
    # save_html writes only when given a str; it silently ignores a Path.
    drift.save_html(str(drift_page))
    if performance is not None:
        performance.save_html(str(performance_page))
    else:
        # An older run's page would pass for this window's.
        performance_page.unlink(missing_ok=True)
