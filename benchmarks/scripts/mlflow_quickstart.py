"""MLflow's quick-start pattern, on a generated project's data, split and model.

    python mlflow_quickstart.py PROJECT STORE

What MLflow's quick-start does: set a tracking URI, start a run, log the params,
fit, log a metric, then `mlflow.sklearn.log_model` with a signature and an input
example and nothing else, so MLflow infers the model's requirements itself. The
data, split, pipeline and hyperparameters are the project's own (its params.yaml
and its features module); the store is SQLite in STORE, as the project's is.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import mlflow
import mlflow.sklearn
import pandas as pd
import yaml
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline


def main(project: Path, store: Path) -> None:
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    features = importlib.import_module(f"{answers['package_name']}.features")
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))

    frame = pd.read_csv(project / params["data"]["path"])
    target = params["data"]["target"]
    X_train, X_test, y_train, y_test = train_test_split(
        frame.drop(columns=target),
        frame[target],
        test_size=params["split"]["test_size"],
        random_state=params["split"]["seed"],
        stratify=frame[target],
    )

    mlflow.set_tracking_uri(f"sqlite:///{(store / 'mlflow.db').as_posix()}")
    mlflow.set_experiment("quickstart")
    with mlflow.start_run():
        mlflow.log_params(params["model"])
        model = Pipeline(
            [
                ("preprocess", features.build_preprocessor(X_train)),
                ("classifier", LogisticRegression(**params["model"])),
            ]
        )
        model.fit(X_train, y_train)
        mlflow.log_metric("accuracy", accuracy_score(y_test, model.predict(X_test)))
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(X_train, model.predict(X_train)),
            input_example=X_train.head(5),
            # Not in the quick-start, and needed: MLflow saves scikit-learn models
            # with skops, which refuses to log this pipeline (its SimpleImputer holds
            # a numpy.dtype) unless the type is trusted. The project passes the same.
            skops_trusted_types=["numpy.dtype"],
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
