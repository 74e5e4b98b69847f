"""The model served: the registry's champion in memory, with what /predict
needs to check a request against its signature and to score it."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import mlflow
from mlflow.models import get_model_info
from mlflow.tracking import MlflowClient
from mlflow.types.schema import ColSpec
from sklearn.pipeline import Pipeline

from ..config import Settings
from ..tracking import registry_uri
from .registry import CHAMPION, load_version
from .schemas import (
    COLUMN_TYPES,
    ModelDescription,
    request_body_doc,
    request_model,
    row_model,
)
from .scorer import Scorer


@dataclass(frozen=True)
class LoadedModel:
    """A registered model version in memory, with what the API says about it."""

    model: Pipeline
    columns: list[ColSpec]
    name: str
    version: str
    alias: str
    run_id: str
    trained_at: datetime


def load_champion(settings: Settings, alias: str = CHAMPION) -> LoadedModel:
    """Load the version that the alias points to, with its signature's columns.

    Blocking, and as slow as the registry: the service runs it in the background
    (loader.py)."""
    uri = registry_uri(settings.root)
    name = settings.registry.model_name
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    version = client.get_model_version_by_alias(name, alias)
    info = get_model_info(f"models:/{name}/{version.version}")
    if info.signature is None or info.signature.inputs is None:
        raise ValueError(f"Version {version.version} has no input signature.")
    columns = list(info.signature.inputs.inputs)
    unsupported = [col.name for col in columns if col.type not in COLUMN_TYPES]
    if unsupported:
        raise ValueError(
            f"Columns of unsupported types in the signature: {unsupported}"
        )
    run = client.get_run(version.run_id)
    return LoadedModel(
        model=load_version(name, version.version),
        columns=columns,
        name=name,
        version=str(version.version),
        alias=alias,
        run_id=version.run_id,
        trained_at=datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC),
    )


class Served:
    """A loaded model with its request schema and its scorer, built once."""

    def __init__(
        self, champion: LoadedModel, max_batch_size: int, threads: int = 1
    ) -> None:
        self.champion = champion
        self.row = row_model(champion.columns)
        self.body = request_model(self.row, max_batch_size)
        self.max_batch_size = max_batch_size
        names = [col.name for col in champion.columns]
        self.scorer = Scorer(champion.model, names, threads)

    def describe(self) -> ModelDescription:
        """What /model says: the version served, and which scorer serves it."""
        served = self.champion
        return ModelDescription(
            name=served.name,
            version=served.version,
            alias=served.alias,
            run_id=served.run_id,
            trained_at=served.trained_at,
            scorer=self.scorer.path,
            scorer_reason=self.scorer.reason,
        )

    def summary(self) -> str:
        """One line for the log: the version, and the scorer with its reason."""
        served = self.champion
        return (
            f"model '{served.name}' version {served.version} ({served.alias}), "
            f"scored by {self.scorer.path}: {self.scorer.reason}"
        )

    def request_doc(self) -> dict[str, Any]:
        """The request body of /predict, as the API's documentation shows it."""
        return request_body_doc(self.row, self.champion.columns, self.max_batch_size)
