"""The model registry and the promotion gate: the register and promote stages.

- `register` adds the model that evaluate's run logged to MLflow's registered
  model named in params.yaml (`registry.model_name`), as a new version, and
  points the alias `challenger` at it;
- `promote` is the gate: it scores the challenger and the current `champion` on
  the same held-out rows, with `registry.metric`, and moves `champion` to the
  challenger only when the challenger is better by more than `registry.margin`.
  The first model becomes champion.

Both refuse a model whose input columns differ from the champion's (inputs.py).
A rerun of `promote` after a change of its settings decides again.

Every decision is written to a JSON file and logged to MLflow with both scores
and the reason, as `gate.*` tags on the challenger's model version and on its
run. The serving API (app.py) serves the version that `champion` points to.
"""

import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mlflow
import skops.io
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.tracking import MlflowClient
from sklearn.pipeline import Pipeline
from skops.io.exceptions import UntrustedTypesFoundException

from ..config import Settings
from ..data import load_dataset
from ..evaluate import evaluate
from ..tracking import start_tracking, tracking_uri
from ..train import SKOPS_TRUSTED_TYPES, untrusted_types_problem
from .inputs import check_same_inputs, input_columns

CHAMPION = "champion"
CHALLENGER = "challenger"
# The tag that rollback (monitoring/rollback.py) sets on the version it demoted.
ROLLED_BACK = "rollback.to_version"


@dataclass(frozen=True)
class Candidate:
    """A registered model version, as register writes it for promote."""

    model_name: str
    version: str
    run_id: str


@dataclass(frozen=True)
class Decision:
    """What the gate decided, why, and the scores it compared."""

    promoted: bool
    reason: str
    metric: str
    margin: float
    challenger_version: str
    challenger_score: float
    champion_version: str | None
    champion_score: float | None

    def tags(self) -> dict[str, str]:
        """The decision as MLflow tags, on the challenger's version and run."""
        return {
            f"gate.{key}": "" if value is None else str(value)
            for key, value in {
                "decision": "promoted" if self.promoted else "kept champion",
                **asdict(self),
            }.items()
            if key != "promoted"
        }


def decide(
    challenger_score: float, champion_score: float | None, margin: float
) -> tuple[bool, str]:
    """Whether the challenger replaces the champion, and why.

    It does when there is no champion yet, or when it beats the champion by
    more than `margin`; a tie, or a gain within the margin, keeps the champion.
    """
    if champion_score is None:
        return True, "first model: there is no champion yet"
    gain = challenger_score - champion_score
    if gain > margin:
        return True, f"the challenger beats the champion by {gain:.4f} > {margin}"
    if gain < 0:
        return False, f"the challenger is worse than the champion by {-gain:.4f}"
    return False, f"the challenger's gain, {gain:.4f}, is within the margin {margin}"


def connect(settings: Settings) -> MlflowClient:
    """Point MLflow at the project's tracking store, as the other stages do."""
    start_tracking(settings.root, settings.tracking.experiment)
    return MlflowClient(tracking_uri(settings.root))


def champion_version(client: MlflowClient, name: str) -> ModelVersion | None:
    """The version that `champion` points to, or None if there is none yet."""
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as error:
        if error.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}:
            return None
        raise


def load_version(name: str, version: str) -> Pipeline:
    """Load a registered version with skops, trusting only SKOPS_TRUSTED_TYPES.

    The types to trust come from this project's code, not from the model's own
    files, so a tampered model cannot widen them. A model that needs other
    types is a ValueError that names them.
    """
    with tempfile.TemporaryDirectory() as folder:
        local = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}", dst_path=folder
            )
        )
        flavor = Model.load(local / "MLmodel").flavors.get("sklearn", {})
        if flavor.get("serialization_format") != "skops":
            raise ValueError(
                f"Model {name} version {version} is not a scikit-learn model saved "
                "with skops, the only format this project loads."
            )
        try:
            return skops.io.load(
                local / flavor["pickled_model"], trusted=SKOPS_TRUSTED_TYPES
            )
        except UntrustedTypesFoundException as error:
            # A version saved by another model (the champion, after a swap)
            # may need types that the current list no longer holds.
            untrusted = skops.io.get_untrusted_types(
                file=local / flavor["pickled_model"]
            )
            problem = untrusted_types_problem(untrusted)
            reason = problem or str(error)
            raise ValueError(f"Model {name} version {version}: {reason}") from error


def register(settings: Settings, run_id: str, out_file: Path) -> Candidate:
    """Register the model that run `run_id` logged as a new version, `challenger`."""
    name = settings.registry.model_name
    client = connect(settings)
    run = client.get_run(run_id)
    logged = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run_id}'",
        output_format="list",
    )
    if len(logged) != 1:
        raise ValueError(
            f"MLflow run {run_id} logged {len(logged)} models, not one: run the "
            "evaluate stage again (`uv run dvc repro evaluate --force`)."
        )
    model_uri = f"models:/{logged[0].model_id}"
    champion = champion_version(client, name)
    if champion is not None:
        check_same_inputs(name, str(champion.version), input_columns(model_uri))
    version = mlflow.register_model(model_uri, name)
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    candidate = Candidate(name, str(version.version), run_id)
    write_json(asdict(candidate), out_file)
    return candidate


def promote(
    settings: Settings, challenger_file: Path, test_file: Path, out_file: Path
) -> Decision:
    """Run the gate on the held-out rows, move `champion` if it says so, log why."""
    gate = settings.registry
    challenger = Candidate(**json.loads(challenger_file.read_text()))
    client = connect(settings)
    champion = champion_version(client, challenger.model_name)
    champion_number = str(champion.version) if champion is not None else None
    if champion_number is not None:
        columns = input_columns(f"models:/{challenger.model_name}/{challenger.version}")
        check_same_inputs(challenger.model_name, champion_number, columns)
    rows = load_dataset(test_file, settings.data.target)

    def score(version: str) -> float:
        # In the order of the version's signature: it may differ from the file's.
        columns = input_columns(f"models:/{challenger.model_name}/{version}")
        model = load_version(challenger.model_name, version)
        return evaluate(model, rows.features[columns], rows.labels)[gate.metric]

    challenger_score = score(challenger.version)
    champion_score = score(champion_number) if champion_number is not None else None
    settled = settled_reason(client, challenger, champion_number)
    if settled is None:
        promoted, reason = decide(challenger_score, champion_score, gate.margin)
    else:
        promoted, reason = False, settled
    decision = Decision(
        promoted=promoted,
        reason=reason,
        metric=gate.metric,
        margin=gate.margin,
        challenger_version=challenger.version,
        challenger_score=challenger_score,
        champion_version=champion_number,
        champion_score=champion_score,
    )
    # A settled challenger keeps the tags of the decision that settled it.
    if settled is None:
        record(client, challenger, decision)
    write_json(asdict(decision), out_file)
    return decision


def settled_reason(
    client: MlflowClient, challenger: Candidate, champion_number: str | None
) -> str | None:
    """Why the gate has nothing to decide for this challenger, or None.

    A rerun of `promote` with other settings (a new margin or metric) meets a
    challenger that an earlier run made champion; moving `champion` away from
    it, or back to a version that `rollback` demoted, is not the gate's call.
    """
    if champion_number == challenger.version:
        return (
            f"v{challenger.version} is already the champion: the gate's settings "
            "apply from the next challenger on"
        )
    version = client.get_model_version(challenger.model_name, challenger.version)
    if ROLLED_BACK in version.tags:
        return (
            f"v{challenger.version} was rolled back, so the gate does not promote "
            "it again: train a new challenger (`uv run dvc repro --force`)"
        )
    return None


def record(client: MlflowClient, challenger: Candidate, decision: Decision) -> None:
    """Move the aliases as decided, and tag the challenger's version and run."""
    if decision.promoted:
        client.set_registered_model_alias(
            challenger.model_name, CHAMPION, challenger.version
        )
        client.delete_registered_model_alias(challenger.model_name, CHALLENGER)
    for key, value in decision.tags().items():
        client.set_model_version_tag(
            challenger.model_name, challenger.version, key, value
        )
        client.set_tag(challenger.run_id, key, value)


def write_json(values: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=2) + "\n")


def describe(decision: Decision) -> list[str]:
    """The decision in two lines: the scores compared, then the outcome and why."""
    scores = (
        f"challenger v{decision.challenger_version} {decision.challenger_score:.4f}"
    )
    if decision.champion_version is not None:
        scores += (
            f", champion v{decision.champion_version} {decision.champion_score:.4f}"
        )
    if decision.promoted:
        outcome = f"v{decision.challenger_version} is the new champion"
    else:
        outcome = f"v{decision.champion_version} stays champion"
    return [
        f"promote: {decision.metric} on the held-out rows: {scores}",
        f"promote: {outcome}: {decision.reason}",
    ]
