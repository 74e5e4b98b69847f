"""Parameters of a training run, read from the project's one config file."""

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

PARAMS_FILE = "params.yaml"


@dataclass(frozen=True)
class DataParams:
    """Which CSV to train on and which of its columns to predict."""

    path: str
    target: str


@dataclass(frozen=True)
class SplitParams:
    """How many rows to hold out for evaluation, and the seed that fixes which."""

    test_size: float
    seed: int


@dataclass(frozen=True)
class TrackingParams:
    """Where MLflow groups the runs."""

    experiment: str


@dataclass(frozen=True)
class Params:
    """Everything a training run depends on besides the code and the data."""

    root: Path
    data: DataParams
    split: SplitParams
    model: dict[str, Any]
    tracking: TrackingParams

    @property
    def data_file(self) -> Path:
        """The CSV's location; a relative `data.path` is relative to `root`."""
        return self.root / self.data.path

    def flat(self) -> dict[str, Any]:
        """The parameters as MLflow logs them: one dotted key each, e.g. `model.C`."""
        sections = {
            "data": asdict(self.data),
            "split": asdict(self.split),
            "model": self.model,
        }
        return {
            f"{section}.{key}": value
            for section, values in sections.items()
            for key, value in values.items()
        }


def find_params_file(start: Path | None = None) -> Path:
    """Return the nearest params.yaml in `start` (default: the current folder) or above.

    Searching upwards lets the same code run from the project root, from
    notebooks/ (where Jupyter starts) or from any other subfolder.
    """
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        candidate = folder / PARAMS_FILE
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"No {PARAMS_FILE} in {start} or any folder above it: run from inside "
        "the project or pass --params."
    )


def load_params(path: Path) -> Params:
    """Read and check a params file; relative paths in it resolve from its folder."""
    if not path.is_file():
        raise FileNotFoundError(f"Params file not found: {path}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path.name} must hold a mapping of sections.")
    model = raw.get("model") or {}
    if not isinstance(model, dict):
        raise ValueError(f"{path.name}: 'model' must be a mapping of hyperparameters.")
    return Params(
        root=path.resolve().parent,
        data=DataParams(**_section(raw, "data", DataParams, path)),
        split=SplitParams(**_section(raw, "split", SplitParams, path)),
        model=model,
        tracking=TrackingParams(**_section(raw, "tracking", TrackingParams, path)),
    )


def _section(
    raw: dict[str, Any], name: str, kind: type[Any], path: Path
) -> dict[str, Any]:
    """One section's values, checked against the keys of the dataclass `kind`."""
    values = raw.get(name)
    if not isinstance(values, dict):
        raise ValueError(f"{path.name}: section '{name}' is missing or not a mapping.")
    expected = {field.name for field in fields(kind)}
    problems = [
        f"{label} {sorted(keys)}"
        for label, keys in [
            ("missing", expected - values.keys()),
            ("unknown", values.keys() - expected),
        ]
        if keys
    ]
    if problems:
        raise ValueError(
            f"{path.name}: section '{name}' takes the keys {sorted(expected)}; "
            f"{', '.join(problems)}."
        )
    return values
