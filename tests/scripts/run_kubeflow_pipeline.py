"""Run a generated Kubeflow project's pipeline.yaml locally against an MLflow server.

Runs inside the project's own environment (which has KFP and MLflow):
`uv run python run_kubeflow_pipeline.py URI EXPERIMENT MODEL`. Each step is a process
of that environment (KFP's SubprocessRunner); the runs and the registered versions go
to the server at URI, under the experiment and model names given. It prints, as JSON,
the champion's version and run id and the experiment's runs.
"""

import json
import sys
import tempfile
from pathlib import Path

import kfp.local
import mlflow
import yaml
from kfp import components

uri, experiment, model = sys.argv[1:4]
params = yaml.safe_load(Path("params.yaml").read_text())
params["tracking"]["experiment"] = experiment
params["registry"]["model_name"] = model
steps = {key: params[key] for key in ("data", "split", "model", "tracking", "registry")}

with tempfile.TemporaryDirectory() as outputs:
    kfp.local.init(runner=kfp.local.SubprocessRunner(use_venv=False), pipeline_root=outputs)
    pipeline = components.load_component_from_file("pipeline.yaml")
    pipeline(params=json.dumps(steps), root=str(Path.cwd()), tracking_uri=uri)

mlflow.set_tracking_uri(uri)
client = mlflow.MlflowClient()
champion = client.get_model_version_by_alias(model, "champion")
runs = mlflow.search_runs(experiment_names=[experiment], output_format="list")
print(
    json.dumps(
        {
            "champion": {"version": champion.version, "run_id": champion.run_id},
            "runs": [run.info.run_id for run in runs],
        }
    )
)
