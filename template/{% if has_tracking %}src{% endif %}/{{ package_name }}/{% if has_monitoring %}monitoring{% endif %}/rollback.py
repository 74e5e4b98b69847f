"""The `rollback` command: move `champion` back to the version it replaced.

The gate tags each version it promotes with the champion it replaced
(`gate.champion_version`), so the registry itself knows what "previous" means:
rolling back twice goes back two promotions. Who rolled back, when and why are
tagged on the version rolled back from, and recorded as an MLflow run named
`rollback`. The running service swaps the previous version back in by itself.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

import mlflow

from ..config import Settings
from ..serving.registry import CHAMPION, champion_version, connect


@dataclass(frozen=True)
class Rollback:
    """Which version was champion, which one is now, who moved it and why."""

    model_name: str
    from_version: str
    to_version: str
    by: str
    reason: str
    at: datetime

    def tags(self) -> dict[str, str]:
        return {
            "rollback.to_version": self.to_version,
            "rollback.by": self.by,
            "rollback.reason": self.reason,
            "rollback.at": self.at.isoformat(timespec="seconds"),
        }


def rollback(settings: Settings, by: str, reason: str) -> Rollback:
    """Move `champion` to the previous champion; ValueError if there is none."""
    if not reason.strip():
        raise ValueError("say why with --reason, for the record.")
    name = settings.registry.model_name
    client = connect(settings)
    current = champion_version(client, name)
    if current is None:
        raise ValueError(
            f"Model '{name}' has no {CHAMPION}: there is nothing to roll back."
        )
    previous = current.tags.get("gate.champion_version")
    if not previous:
        raise ValueError(
            f"Version {current.version} of '{name}' was the first {CHAMPION}: "
            "there is no earlier one to roll back to."
        )
    done = Rollback(
        model_name=name,
        from_version=str(current.version),
        to_version=previous,
        by=by,
        reason=reason,
        at=datetime.now(UTC),
    )
    client.set_registered_model_alias(name, CHAMPION, previous)
    for key, value in done.tags().items():
        client.set_model_version_tag(name, done.from_version, key, value)
    experiment = client.get_experiment_by_name(settings.tracking.experiment)
    with mlflow.start_run(experiment_id=experiment.experiment_id, run_name="rollback"):
        mlflow.set_tags({**done.tags(), "rollback.from_version": done.from_version})
    return done
