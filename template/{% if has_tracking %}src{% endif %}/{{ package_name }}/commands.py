"""What each command of the command line (cli.py) does.

Every handler reads and checks params.yaml first, so that a wrong setting is
refused before any work; then it imports the modules the command needs, which
are those of its subpackage (pipeline/, serving/, monitoring/, demo/) when it
has one.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .config import load_settings

# Evidently's documented opt-out of anonymous usage statistics.
DO_NOT_TRACK_VARIABLE = "DO_NOT_TRACK"


def run_train(args: argparse.Namespace) -> int:
    """Train the model on the data named in params.yaml, evaluate it on a held-out
    split and log the run to MLflow: parameters, metrics, the data's path and MD5
    hash, the git commit, and the model with its signature and an input example.

    Runs go to mlflow.db at the project root, or to $MLFLOW_TRACKING_URI when set.
    """
    settings = load_settings(args.params)
    # skops before MLflow: on import it searches every loaded module for
    # NumPy's and SciPy's functions, and before MLflow there are fewer (0.3 s).
    import skops.io  # noqa: F401

    from .train import summary_lines, train

    print("\n".join(summary_lines(settings, train(settings))))
    return 0


def run_example_request(args: argparse.Namespace) -> int:
    """Print a request body for the service's /predict: the first rows of the data
    named in params.yaml, without the target column, as {"rows": [...]}.

    Send it to the running service (`serve`) with
      uv run %(prog)s |
        curl -sS --fail-with-body localhost:8000/predict \\
        -H 'content-type: application/json' -d @-
    """
    settings = load_settings(args.params)
    from .data import load_dataset

    features = load_dataset(settings.data_file, settings.data.target).features
    # pandas writes a missing value as null, which the service accepts where the
    # model's signature allows it; json.dumps would write NaN, which is not JSON.
    records = features.head(args.rows).to_json(orient="records", double_precision=15)
    print(json.dumps({"rows": json.loads(records)}, indent=2))
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """Serve the registry's champion model over HTTP: /predict, /health, /ready,
    /model and /metrics, with the API's documentation at /docs.

    The model comes from $MLFLOW_TRACKING_URI's registry when set, else from the
    project's mlflow.db; params.yaml names it and sets the request limits.
    """
    settings = load_settings(args.params)
    from .serving.server import run

    # The access log costs throughput: off unless asked for.
    return run(settings, args.host, args.port, access_log=args.access_log)


def run_prepare(args: argparse.Namespace) -> int:
    """The pipeline's first stage: check the raw data (data.path) against the data
    contract (pipeline/schema.py), then split it into training and held-out rows.
    """
    settings = load_settings(args.params)
    from .pipeline.stages import prepare_stage, split_line

    print(split_line(prepare_stage(settings, args.train, args.test)))
    return 0


def run_fit(args: argparse.Namespace) -> int:
    """The pipeline's train stage: fit the model on the training rows, save it."""
    settings = load_settings(args.params)
    from .pipeline.stages import model_line, train_stage

    print(model_line(train_stage(settings, args.train, args.model), args.model))
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """The pipeline's evaluate stage: score the model on the held-out rows, write
    the metrics and the data of the plots, log the run to MLflow and write its id
    for the stages after it.
    """
    settings = load_settings(args.params)
    from .pipeline.stages import EvaluationFiles, evaluate_stage, evaluation_lines

    out = EvaluationFiles(args.metrics, args.plots, args.run)
    evaluation = evaluate_stage(settings, args.test, args.model, out)
    print("\n".join(evaluation_lines(settings, evaluation)))
    return 0


def run_register(args: argparse.Namespace) -> int:
    """The register stage: add the model of evaluate's run to MLflow's registry,
    as a new version of registry.model_name, with the alias `challenger`.
    """
    settings = load_settings(args.params)
    from .pipeline.stages import candidate_line
    from .serving.registry import register

    try:
        run_id = json.loads(args.run.read_text())["run_id"]
    except (OSError, ValueError, KeyError):
        raise ValueError(
            f"{args.run} does not name evaluate's MLflow run: run the evaluate "
            "stage first (`uv run dvc repro evaluate`)."
        ) from None
    print(candidate_line(register(settings, run_id, args.out)))
    return 0


def run_promote(args: argparse.Namespace) -> int:
    """The promotion gate: score the challenger and the champion on the held-out
    rows with registry.metric; the challenger becomes champion only if it is
    better by more than registry.margin.
    """
    settings = load_settings(args.params)
    from .serving.registry import describe, promote

    print("\n".join(describe(promote(settings, args.challenger, args.test, args.out))))
    return 0


def run_sample(args: argparse.Namespace) -> int:
    """Rebuild the sample data from scikit-learn's copy, byte for byte, with the
    MD5 that DVC records for it (CI does so before `dvc repro`).
    """
    from .pipeline.sample import write_sample

    write_sample(args.path)
    print(f"wrote the sample data to {args.path}")
    return 0


def run_get_data(args: argparse.Namespace) -> int:
    """Get the data that params.yaml names (data.path), as CI does before the
    tests and `dvc repro`: the sample is rebuilt from scikit-learn's copy, byte
    for byte; your own data is pulled from the DVC remote (`dvc pull`).
    """
    settings = load_settings(args.params)
    from .pipeline.sample import get_data

    print(get_data(settings.root, settings.data.path))
    return 0


def run_contract(args: argparse.Namespace) -> int:
    """Print a COLUMNS mapping for pipeline/schema.py that a CSV meets, generated
    from its columns and values: paste it over the old one, then review it.
    """
    settings = load_settings(args.params)
    import pandas as pd

    from .pipeline.schema import suggest_columns

    frame = pd.read_csv(args.csv)
    print(suggest_columns(frame, args.target or settings.data.target))
    return 0


def run_monitor(args: argparse.Namespace) -> int:
    """Compare the rows the service logged recently with the training data:
    Evidently tests each feature column for drift, and the data has drifted when
    at least monitoring.drift_share of them have. Where labels have arrived (a CSV
    file or a `labels` table, see params.yaml), the predictions are scored too.

    Writes reports/monitoring/drift.html, performance.html (with labels) and
    summary.json, and logs them to MLflow as a run named `monitor`.

    Exit codes: 0 no drift, 1 drift, 2 too little data or an error.
    """
    settings = load_settings(args.params)
    os.environ.setdefault(DO_NOT_TRACK_VARIABLE, "1")
    from .monitoring.monitor import UNUSABLE, TooLittleData, monitor, summary_lines

    try:
        summary = monitor(settings, args.since)
    except TooLittleData as reason:
        print(f"monitor: {reason}")
        return UNUSABLE
    print("\n".join(summary_lines(summary)))
    return summary.exit_code


def run_retrain(args: argparse.Namespace) -> int:
    """Retrain on the training data plus the logged predictions that have labels,
    then run the promotion gate: a better model becomes champion, and the running
    service swaps it in. Guardrails: labelled rows within the data contract, at
    least retraining.min_new_rows of them that the training data does not hold
    yet, and never a model that is not better.

    Writes reports/retraining/ (decision.json says what was decided and why).
    Exit codes: 0 promoted, kept or skipped; 1 refused or error; 2 another
    retrain of the same registry model is running, and this one did nothing.
    """
    settings = load_settings(args.params)
    from .monitoring.lock import RetrainRunning
    from .monitoring.retrain import retrain

    try:
        decision = retrain(settings)
    except RetrainRunning as error:
        print(f"retrain: {error}", file=sys.stderr)
        return 2
    print(f"retrain: {decision.decision}: {decision.reason}")
    return 1 if decision.decision == "refused" else 0


def run_rollback(args: argparse.Namespace) -> int:
    """Point the `champion` alias back at the version the current champion
    replaced, and record who did it and why in MLflow. The service picks it up
    without a restart, within hot_swap.interval_seconds.
    """
    settings = load_settings(args.params)
    from .monitoring.rollback import rollback

    done = rollback(settings, args.by, args.reason)
    print(
        f"rollback: '{done.model_name}' champion is version {done.to_version} again "
        f"(was {done.from_version}); by {done.by}: {done.reason}"
    )
    return 0


def run_demo(args: argparse.Namespace) -> int:
    """Run the continuous-training loop end to end in a scratch folder: train and
    serve a champion, send normal then drifted traffic, let `monitor` find the
    drift, `retrain`, and watch the service swap in the new champion without a
    failed request. Touches neither mlflow.db nor the prediction log.
    """
    settings = load_settings(args.params)
    from .demo.loop import run_loop
    from .demo.traffic import DemoFailed

    folder = args.keep or Path(tempfile.mkdtemp(prefix="demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        run_loop(settings, folder.resolve(), args.timeout)
    except DemoFailed as error:
        # The folder stays, so that the log the message names is still there.
        print(f"demo: failed: {error}", file=sys.stderr)
        print(f"demo: its files are kept in {folder}", file=sys.stderr)
        return 1
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)
    print("demo: the loop is closed: drift found, retrained, promoted, swapped in")
    return 0
