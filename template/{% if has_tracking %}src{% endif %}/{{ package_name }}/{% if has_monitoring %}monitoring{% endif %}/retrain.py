"""The `retrain` command: continuous training, behind guardrails.

It retrains on the training data plus the logged predictions whose labels have
arrived, then runs the level-3 promotion gate:

1. the labelled rows: the prediction log joined with the labels (traffic.py);
   they must meet the data contract (schema.py), or it stops;
2. fewer than `retraining.min_new_rows` of them that the training data does
   not hold yet, and it stops: too little new data;
3. reference plus new rows go through the pipeline's stages (`run_all`):
   split, trained on, evaluated and logged to MLflow, registered as the
   challenger, and promoted only if the gate finds it better than the champion
   on the held-out rows by `registry.margin`.

Every decision is printed, written to reports/retraining/decision.json and
logged to MLflow with its reason (`retrain.*` tags). The running service picks
up a promoted champion by itself (hot swap), so there is nothing to redeploy.

Two retrains of one registry model never overlap: the first holds a lock
(lock.py) and a second one stops at once with RetrainRunning. Each training
run works in a folder of its own, reports/retraining/runs/<time>-<pid>/; only
its decision.json and data.csv are then copied next to runs/, each file
replaced whole, so that no reader ever sees half of one.
"""

import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from ..config import Settings
from ..data import load_dataset
from ..pipeline.schema import ContractError, check_contract
from ..pipeline.stages import run_all, write_csv, write_json
from ..tracking import start_tracking, tracking_uri
from .lock import retrain_lock
from .traffic import labelled_rows, read_logged

OUTPUT = Path("reports") / "retraining"
# What a run leaves next to runs/: the decision, and the data it trained on.
PUBLISHED = ("decision.json", "data.csv")


@dataclass(frozen=True)
class RetrainDecision:
    """What retrain decided, why, and on how much new data."""

    decision: str  # promoted, kept, skipped or refused
    reason: str
    new_rows: int
    champion_version: str | None = None
    challenger_version: str | None = None
    run_id: str | None = None

    def tags(self) -> dict[str, str]:
        return {
            "retrain.decision": self.decision,
            "retrain.reason": self.reason,
            "retrain.new_rows": str(self.new_rows),
        }


def not_in(reference: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """The rows that the reference does not hold yet: once the team has moved
    the reference to take them in (see docs/runbook.md), they are not new."""
    known = rows.merge(reference.drop_duplicates(), how="left", indicator=True)
    return rows[(known["_merge"] == "left_only").to_numpy()].reset_index(drop=True)


def retrain(settings: Settings, say: Callable[[str], None] = print) -> RetrainDecision:
    """Run the guardrails, then train, register and gate; log the decision.

    `say` hears of each step, the pipeline's stages included. RetrainRunning
    (lock.py) when another retrain of the same registry model holds the lock.
    """
    with retrain_lock(settings):
        return guard_and_train(settings, say)


def guard_and_train(settings: Settings, say: Callable[[str], None]) -> RetrainDecision:
    """The guardrails, then training and the gate; the caller holds the lock."""
    minimum = settings.retraining.min_new_rows
    reference = load_dataset(settings.data_file, settings.data.target).frame
    labelled = labelled_rows(*read_logged(settings), settings.data.target)
    say(f"retrain: {len(labelled)} logged predictions have a label")
    if len(labelled) >= minimum:
        try:
            labelled = check_contract(labelled, source="the labelled predictions")
        except ContractError as error:
            decision = RetrainDecision("refused", str(error), len(labelled))
            return log_decision(settings, decision)
        say("retrain: they meet the data contract")
    new = not_in(reference, labelled)
    if len(new) < minimum:
        reason = (
            f"too little new data: {len(new)} labelled rows new to the training "
            f"data, fewer than retraining.min_new_rows ({minimum})"
        )
        return log_decision(settings, RetrainDecision("skipped", reason, len(new)))
    say(f"retrain: training on {len(reference)} reference + {len(new)} new rows")
    return train_and_gate(settings, reference, new, say)


def train_and_gate(
    settings: Settings,
    reference: pd.DataFrame,
    new: pd.DataFrame,
    say: Callable[[str], None],
) -> RetrainDecision:
    """Reference plus new rows through the pipeline's stages and the gate, in a
    folder of the run's own; its decision and data are then published."""
    out = run_folder(settings.root / OUTPUT)
    data_file = out / "data.csv"
    combined = pd.concat([reference, new[reference.columns]], ignore_index=True)
    write_csv(combined, data_file)
    # The run records the combined data as its data, with its own hash.
    path = str(data_file.relative_to(settings.root))
    data = settings.data.model_copy(update={"path": path})
    result = run_all(settings.model_copy(update={"data": data}), out, say)
    gate = result.decision
    decision = RetrainDecision(
        "promoted" if gate.promoted else "kept",
        gate.reason,
        len(new),
        champion_version=gate.challenger_version
        if gate.promoted
        else gate.champion_version,
        challenger_version=gate.challenger_version,
        run_id=result.evaluation.run_id,
    )
    client = MlflowClient(tracking_uri(settings.root))
    for key, value in decision.tags().items():
        client.set_tag(decision.run_id, key, value)
    write_json(asdict(decision), out / "decision.json")
    publish(out, settings.root / OUTPUT)
    return decision


def run_folder(output: Path) -> Path:
    """A new folder for one run: its start time (UTC) and process id name it."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = output / "runs" / f"{stamp}-{os.getpid()}"
    folder.mkdir(parents=True)
    return folder


def publish(run: Path, output: Path) -> None:
    """Copy the run's decision and data next to runs/, each replaced whole:
    a copy under another name first, then a rename, which is atomic."""
    for name in PUBLISHED:
        if (run / name).exists():
            partial = output / f".{name}.{os.getpid()}"
            shutil.copyfile(run / name, partial)
            os.replace(partial, output / name)


def log_decision(settings: Settings, decision: RetrainDecision) -> RetrainDecision:
    """Record a decision taken before any training, as a run of its own."""
    experiment_id = start_tracking(settings.root, settings.tracking.experiment)
    with mlflow.start_run(experiment_id=experiment_id, run_name="retrain") as run:
        mlflow.set_tags(decision.tags())
        mlflow.log_metric("new_rows", decision.new_rows)
    decision = replace(decision, run_id=run.info.run_id)
    out = run_folder(settings.root / OUTPUT)
    write_json(asdict(decision), out / "decision.json")
    publish(out, settings.root / OUTPUT)
    return decision
