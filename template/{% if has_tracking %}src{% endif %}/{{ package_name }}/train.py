"""Train the model, evaluate it on held-out rows, and track the run in MLflow."""

import json
import logging
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from importlib.metadata import packages_distributions, version
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import skops.io
from mlflow.models import ModelSignature, infer_signature
from mlflow.types.schema import ColSpec, DataType, Schema
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from .config import Settings
from .data import Split, load_dataset, split_dataset
from .evaluate import evaluate
from .features import build_preprocessor, imputed_columns
from .tracking import (
    git_tags,
    local_tracking_uri,
    log_dataset,
    start_tracking,
    tracking_uri,
)

# MLflow saves scikit-learn models with skops, which loads only types it trusts.
# It trusts scikit-learn's estimators; the default pipeline also stores a
# numpy.dtype (in SimpleImputer). A replacement model may need more types:
# training then stops with the line to put here instead. Check each type it
# names before you trust it (see README, "Replace the model").
SKOPS_TRUSTED_TYPES = ["numpy.dtype"]

# What the logged model needs to load and predict, pinned to the versions it
# was trained with; the packages of the model's own steps (LightGBM, say) are
# added. Declaring the list spares MLflow from inferring it on every run, which
# is slow.
MODEL_REQUIREMENTS = ("mlflow", "numpy", "pandas", "scikit-learn", "scipy", "skops")

# The signature's number types; a missing value turns any of them into a double.
NUMBER_TYPES = (DataType.integer, DataType.long, DataType.float, DataType.double)


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced and where MLflow keeps it."""

    run_id: str
    experiment_id: str
    tracking_uri: str
    model_uri: str
    data_md5: str
    metrics: dict[str, float]
    model: Pipeline
    split: Split


def build_model(features: pd.DataFrame, hyperparameters: dict[str, Any]) -> Pipeline:
    """The default model: the preprocessing, then a logistic regression."""
    return Pipeline(
        [
            ("preprocess", build_preprocessor(features)),
            ("classifier", LogisticRegression(**hyperparameters)),
        ]
    )


def model_packages(model: Pipeline) -> list[str]:
    """The installed packages that the model's steps come from, MODEL_REQUIREMENTS
    first: a model from another package (LightGBM, XGBoost) needs it to load."""
    steps = [step for _, step in model.steps] if isinstance(model, Pipeline) else []
    modules = {type(part).__module__.partition(".")[0] for part in [model, *steps]}
    installed = packages_distributions()
    found = {name for module in modules for name in installed.get(module, [])}
    return [*MODEL_REQUIREMENTS, *sorted(found - set(MODEL_REQUIREMENTS))]


def pinned_requirements(model: Pipeline) -> list[str]:
    """The model's packages pinned to the installed versions."""
    return [f"{package}=={version(package)}" for package in model_packages(model)]


def untrusted_types_problem(untrusted: list[str]) -> str | None:
    """Which of `untrusted` SKOPS_TRUSTED_TYPES lacks, and the line that adds them."""
    new = sorted(set(untrusted) - set(SKOPS_TRUSTED_TYPES))
    if not new:
        return None
    needed = [*SKOPS_TRUSTED_TYPES, *new]
    return (
        f"skops does not trust these types of the model: {', '.join(new)}. "
        "Check that each is safe to load, then set in train.py:\n"
        f"SKOPS_TRUSTED_TYPES = {json.dumps(needed)}"
    )


def check_trusted(model: Pipeline) -> None:
    """A ValueError, with the line to set in this file, if skops would refuse to
    load `model`: found before the model is saved, not when it is loaded."""
    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    problem = untrusted_types_problem(untrusted)
    if problem is not None:
        raise ValueError(problem)


def model_signature(
    features: pd.DataFrame, predictions: np.ndarray, optional: Collection[str] = ()
) -> ModelSignature:
    """The columns the model takes and the labels it returns; MLflow enforces both.

    `features` is the whole training frame. A column in `optional`, or one that
    has missing values there, accepts a missing value; such a column, when it
    is numeric, is typed double, since a missing number arrives as NaN. So
    neither which rows a split held out nor where values are missing changes
    the signature, and a retrained model keeps the one the service serves.
    """
    missing = set(features.columns[features.isna().any()]) | set(optional)
    with warnings.catch_warnings():
        # MLflow hints that integer columns cannot hold missing values: here an
        # integer column that may miss one is declared double, and predicted
        # class labels are never missing.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains int")
        inferred = infer_signature(features).inputs.inputs
        outputs = infer_signature(model_output=predictions).outputs
    inputs = [
        accepting_missing(column) if column.name in missing else column
        for column in inferred
    ]
    return ModelSignature(inputs=Schema(inputs), outputs=outputs)


def accepting_missing(column: ColSpec) -> ColSpec:
    """`column`, optional, and typed double if it holds numbers."""
    kind = DataType.double if column.type in NUMBER_TYPES else column.type
    return ColSpec(type=kind, name=column.name, required=False)


def is_not_pip_notice(record: logging.LogRecord) -> bool:
    """False for MLflow's notice that it cannot pin pip in the model's conda.yaml.

    uv environments have no pip, so MLflow says so on every run; the pinned
    requirements are what installs the model, so the notice is noise here.
    """
    return "installed pip version" not in record.getMessage()


def log_model(model: Pipeline, features: pd.DataFrame) -> str:
    """Log the model with its signature and an input example; return its URI."""
    check_trusted(model)
    environment_logger = logging.getLogger("mlflow.utils.environment")
    environment_logger.addFilter(is_not_pip_notice)
    try:
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=model_signature(
                features, model.predict(features), optional=imputed_columns(model)
            ),
            input_example=features.head(5),
            pip_requirements=pinned_requirements(model),
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
        )
    finally:
        environment_logger.removeFilter(is_not_pip_notice)
    return info.model_uri


def train(settings: Settings) -> TrainResult:
    """Train on the configured data, score on a held-out split, log it all to MLflow."""
    dataset = load_dataset(settings.data_file, settings.data.target)
    split = split_dataset(dataset, settings.split.test_size, settings.split.seed)
    experiment_id = start_tracking(settings.root, settings.tracking.experiment)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_params(settings.flat())
        mlflow.set_tags(git_tags(settings.root))
        log_dataset(dataset, settings.data.path)
        model = build_model(split.X_train, settings.model)
        model.fit(split.X_train, split.y_train)
        metrics = evaluate(model, split.X_test, split.y_test)
        mlflow.log_metrics(metrics)
        # The signature comes from every row, so the split cannot change it.
        model_uri = log_model(model, dataset.features)
    return TrainResult(
        run_id=run.info.run_id,
        experiment_id=experiment_id,
        tracking_uri=tracking_uri(settings.root),
        model_uri=model_uri,
        data_md5=dataset.md5,
        metrics=metrics,
        model=model,
        split=split,
    )


def summary_lines(settings: Settings, result: TrainResult) -> list[str]:
    """What was logged, how well the model did, and where to look at the run."""
    return [
        f"MLflow run {result.run_id} in experiment '{settings.tracking.experiment}'",
        f"  data      {settings.data.path} (md5 {result.data_md5})",
        *(f"  {name:<9} {value:.4f}" for name, value in result.metrics.items()),
        where_to_look(result.tracking_uri, settings.root, result),
    ]


def where_to_look(uri: str, root: Path, result: TrainResult) -> str:
    """How to open this run in the MLflow UI, for the store it was logged to."""
    if uri == local_tracking_uri(root):
        return (
            "Open the MLflow UI from the project root with\n"
            "  uv run mlflow ui --backend-store-uri sqlite:///mlflow.db\n"
            "and browse to http://127.0.0.1:5000"
        )
    if uri.startswith(("http://", "https://")):
        run_path = f"#/experiments/{result.experiment_id}/runs/{result.run_id}"
        return f"Open {uri.rstrip('/')}/{run_path}"
    return f"Open the MLflow UI with: uv run mlflow ui --backend-store-uri {uri}"
