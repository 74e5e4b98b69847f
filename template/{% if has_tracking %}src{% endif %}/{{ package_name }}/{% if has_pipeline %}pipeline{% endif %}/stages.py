"""The stages of the DVC pipeline in dvc.yaml: prepare -> train -> evaluate.

`uv run dvc repro` runs each stage as a command of the package's command line
(cli.py), passing the files that dvc.yaml declares as the stage's dependencies
and outputs; the settings come from params.yaml. The stages reuse the functions
that the `train` command runs in one go:

- prepare checks the raw CSV against the data contract (schema.py), then writes
  the training and held-out rows to two CSV files;
- train fits the model on the training rows and saves it with skops;
- evaluate scores the model on the held-out rows, writes the metrics and the
  data of the plots for `dvc metrics` and `dvc plots`, logs the pipeline run to
  MLflow, as the `train` command does, and writes that run's id for the stages
  after it.

`run_all` runs the stages one after the other outside DVC, in a folder of their
own, for the commands that retrain the model.
"""

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import skops.io
from sklearn.metrics import precision_recall_curve, roc_curve
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import label_binarize

from ..config import Settings
from ..data import Dataset, Split, load_dataset, split_dataset
from ..evaluate import BINARY, evaluate
from ..tracking import git_tags, log_dataset, start_tracking
from ..train import SKOPS_TRUSTED_TYPES, build_model, check_trusted, log_model
from .schema import check_contract

# The package this subpackage belongs to, where serving/ is, when it exists.
PACKAGE = __package__.rpartition(".")[0]
# The most rows a plot's CSV holds, and the seed of the rows it samples.
MAX_PLOT_POINTS = 1000
PLOT_SEED = 0


@dataclass(frozen=True)
class Evaluation:
    """What the evaluate stage measured, and the MLflow run that records it."""

    run_id: str
    metrics: dict[str, float]


@dataclass(frozen=True)
class EvaluationFiles:
    """Where evaluate writes: metrics, the data of the plots, its MLflow run's id."""

    metrics: Path
    plots: Path
    run: Path

    @classmethod
    def in_folder(cls, folder: Path) -> "EvaluationFiles":
        return cls(folder / "metrics.json", folder / "plots", folder / "run.json")


def prepare_stage(settings: Settings, train_file: Path, test_file: Path) -> Split:
    """Check the raw data against the contract, split it, and write both parts."""
    dataset = load_dataset(settings.data_file, settings.data.target)
    valid = check_contract(dataset.frame, source=settings.data.path)
    split = split_dataset(
        Dataset(valid, dataset.path, dataset.md5, dataset.target),
        settings.split.test_size,
        settings.split.seed,
    )
    write_csv(pd.concat([split.X_train, split.y_train], axis="columns"), train_file)
    write_csv(pd.concat([split.X_test, split.y_test], axis="columns"), test_file)
    return split


def train_stage(settings: Settings, train_file: Path, model_file: Path) -> Pipeline:
    """Fit the model on the training rows and save it to `model_file` with skops."""
    rows = load_dataset(train_file, settings.data.target)
    model = build_model(rows.features, settings.model)
    model.fit(rows.features, rows.labels)
    check_trusted(model)
    model_file.parent.mkdir(parents=True, exist_ok=True)
    skops.io.dump(model, model_file)
    return model


def evaluate_stage(
    settings: Settings, test_file: Path, model_file: Path, out: EvaluationFiles
) -> Evaluation:
    """Score the model on the held-out rows, write metrics and plots, log to MLflow."""
    rows = load_dataset(test_file, settings.data.target)
    model = skops.io.load(model_file, trusted=SKOPS_TRUSTED_TYPES)
    metrics = evaluate(model, rows.features, rows.labels)
    write_metrics(metrics, out.metrics)
    write_plots(model, rows, out.plots)
    run_id = log_run(settings, model, metrics, out.plots)
    # The stages after this one take the run by its id, from this file.
    write_json({"run_id": run_id}, out.run)
    return Evaluation(run_id=run_id, metrics=metrics)


def log_run(
    settings: Settings, model: Pipeline, metrics: dict[str, float], plots_dir: Path
) -> str:
    """Record the pipeline run in MLflow as `train` records its runs; return its id.

    The data logged is the raw CSV the pipeline started from (its path and MD5,
    the hash in its .dvc file), not the split that prepare wrote; the model's
    signature comes from all of its rows too, so the split cannot change it.
    """
    raw = load_dataset(settings.data_file, settings.data.target)
    experiment_id = start_tracking(settings.root, settings.tracking.experiment)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_params(settings.flat())
        mlflow.set_tags(git_tags(settings.root))
        log_dataset(raw, settings.data.path)
        mlflow.log_metrics(metrics)
        mlflow.log_artifacts(str(plots_dir), artifact_path="plots")
        log_model(model, raw.features)
    return run.info.run_id


@dataclass(frozen=True)
class PipelineRun:
    """What `run_all` did: the split, the evaluation, and the gate's decision
    (None in a project without a model registry, serving/)."""

    split: Split
    evaluation: Evaluation
    decision: Any


def run_all(
    settings: Settings, folder: Path, say: Callable[[str], None] = print
) -> PipelineRun:
    """The stages of dvc.yaml one after the other, their files in `folder`.

    `say` receives the line that each stage's command prints.
    """
    train_file, test_file, model_file = (
        folder / "train.csv",
        folder / "test.csv",
        folder / "model.skops",
    )
    split = prepare_stage(settings, train_file, test_file)
    say(split_line(split))
    say(model_line(train_stage(settings, train_file, model_file), model_file))
    evaluation = evaluate_stage(
        settings, test_file, model_file, EvaluationFiles.in_folder(folder)
    )
    for line in evaluation_lines(settings, evaluation):
        say(line)
    if importlib.util.find_spec(f"{PACKAGE}.serving") is None:
        return PipelineRun(split, evaluation, decision=None)
    # Imported here: a project without serving/ has neither registry nor gate.
    from ..serving.registry import describe, promote, register

    challenger = folder / "challenger.json"
    say(candidate_line(register(settings, evaluation.run_id, challenger)))
    decision = promote(settings, challenger, test_file, folder / "promotion.json")
    for line in describe(decision):
        say(line)
    return PipelineRun(split, evaluation, decision)


def split_line(split: Split) -> str:
    rows = len(split.y_train) + len(split.y_test)
    return (
        f"prepare: {rows} rows meet the data contract; "
        f"{len(split.y_train)} to train on, {len(split.y_test)} held out"
    )


def model_line(model: Pipeline, model_file: Path) -> str:
    return f"train: {type(model[-1]).__name__} saved to {model_file}"


def evaluation_lines(settings: Settings, evaluation: Evaluation) -> list[str]:
    scores = ", ".join(
        f"{name} {value:.4f}" for name, value in evaluation.metrics.items()
    )
    return [
        f"evaluate: {scores}",
        f"evaluate: MLflow run {evaluation.run_id} in '{settings.tracking.experiment}'",
    ]


def candidate_line(candidate: Any) -> str:
    """What register did, from the version it registered."""
    return (
        f"register: model '{candidate.model_name}' version {candidate.version} "
        f"(run {candidate.run_id}) is the challenger"
    )


def write_json(values: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=2) + "\n")


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` without its index; pandas' default float format round-trips."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")


def write_metrics(metrics: dict[str, float], path: Path) -> None:
    """The metrics as JSON, which `dvc metrics show` and `dvc metrics diff` read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")


def write_plots(model: Pipeline, rows: Dataset, folder: Path) -> None:
    """The data of the plots that dvc.yaml defines: ROC, precision-recall, confusion.

    Each file holds at most MAX_PLOT_POINTS rows, whatever the data's size, so
    that git keeps them small: the curves keep evenly spaced points, ends
    included, and the confusion matrix a fixed random sample of the rows.
    """
    folder.mkdir(parents=True, exist_ok=True)
    actual, scores = positive_scores(model, rows)
    fpr, tpr, _ = roc_curve(actual, scores)
    precision, recall, _ = precision_recall_curve(actual, scores)
    roc = pd.DataFrame({"fpr": fpr, "tpr": tpr})
    curve = pd.DataFrame({"recall": recall, "precision": precision})
    write_csv(evenly_spaced(roc), folder / "roc.csv")
    write_csv(evenly_spaced(curve), folder / "precision_recall.csv")
    predictions = pd.DataFrame(
        {"actual": rows.labels.to_numpy(), "predicted": model.predict(rows.features)}
    )
    if len(predictions) > MAX_PLOT_POINTS:
        predictions = predictions.sample(MAX_PLOT_POINTS, random_state=PLOT_SEED)
    write_csv(predictions, folder / "predictions.csv")


def evenly_spaced(points: pd.DataFrame) -> pd.DataFrame:
    """At most MAX_PLOT_POINTS of a curve's points, evenly spaced, both ends kept."""
    if len(points) <= MAX_PLOT_POINTS:
        return points
    kept = np.unique(np.linspace(0, len(points) - 1, MAX_PLOT_POINTS).round())
    return points.iloc[kept.astype(int)]


def positive_scores(model: Pipeline, rows: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Whether each row is positive (0 or 1), and the model's score for it.

    With two classes the second one is positive, as in evaluate.py. With more,
    each (row, class) pair counts once: the micro-average of the one-vs-rest
    curves.
    """
    probabilities = model.predict_proba(rows.features)
    classes = model.classes_
    if len(classes) == BINARY:
        return (rows.labels == classes[1]).to_numpy(dtype=int), probabilities[:, 1]
    actual = label_binarize(rows.labels, classes=classes)
    return actual.ravel(), probabilities.ravel()
