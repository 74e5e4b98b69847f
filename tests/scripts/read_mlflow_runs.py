"""Print, as JSON, what a project's MLflow store holds for its runs.

Runs inside a generated project's own environment (which has MLflow; the
template's test environment does not): `uv run python read_mlflow_runs.py URI`.
It loads each run's logged model and predicts on the project's sample rows,
so a model that cannot be loaded fails here.
"""

import json
import sys

import mlflow
import pandas as pd

uri = sys.argv[1]
mlflow.set_tracking_uri(uri)
client = mlflow.MlflowClient()
sample = pd.read_csv("data/raw/breast_cancer.csv").drop(columns="target").head(5)

runs = []
for experiment in client.search_experiments():
    for run in client.search_runs([experiment.experiment_id]):
        models = mlflow.search_logged_models(
            experiment_ids=[experiment.experiment_id],
            filter_string=f"source_run_id = '{run.info.run_id}'",
            output_format="list",
        )
        predictions = []
        signature_inputs = []
        for logged in models:
            model = mlflow.pyfunc.load_model(logged.model_uri)
            predictions = [int(value) for value in model.predict(sample)]
            signature_inputs = model.metadata.signature.inputs.input_names()
        runs.append(
            {
                "experiment": experiment.name,
                "params": run.data.params,
                "metrics": run.data.metrics,
                "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
                "datasets": [
                    {"name": item.dataset.name, "digest": item.dataset.digest}
                    for item in run.inputs.dataset_inputs
                ],
                "models": len(models),
                "signature_inputs": signature_inputs,
                "predictions": predictions,
            }
        )
print(json.dumps(runs))
