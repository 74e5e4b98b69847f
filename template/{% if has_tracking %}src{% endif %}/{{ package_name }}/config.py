"""The project's settings: params.yaml, read once into typed and checked sections.

Every module takes its section from `Settings`; none reads params.yaml itself.
The check is strict: `true` is not a number and `"1"` is not an integer, so a
typo fails here, naming the key, before any work starts.
"""

import importlib.util
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PARAMS_FILE = "params.yaml"

# The metrics that evaluate.py computes, and so the ones the gate can compare.
Metric = Literal["accuracy", "precision", "recall", "f1", "roc_auc"]
Positive = Annotated[float, Field(gt=0)]
Count = Annotated[int, Field(ge=1)]
Name = Annotated[str, Field(min_length=1)]


class SettingsError(ValueError):
    """params.yaml is missing, unreadable, or holds a value its key does not take."""


class Section(BaseModel):
    """A section of params.yaml: its keys are exactly the fields below."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class DataSettings(Section):
    """Which CSV to train on and which of its columns to predict."""

    path: Name
    target: Name


class SplitSettings(Section):
    """How many rows to hold out for evaluation, and the seed that fixes which."""

    test_size: Annotated[float, Field(gt=0, lt=1)]
    seed: Annotated[int, Field(ge=0)]


class TrackingSettings(Section):
    """Where MLflow groups the runs."""

    experiment: Name


class RegistrySettings(Section):
    """The registered model, and how the gate compares challenger and champion."""

    model_name: Name
    metric: Metric
    margin: Annotated[float, Field(ge=0)]


class ServingSettings(Section):
    """How big one /predict request may be, and how many threads score it."""

    max_batch_size: Count
    max_request_bytes: Count
    threads: Count = 1


class PredictionSettings(Section):
    """Whether the service logs what it scores, where to, and where labels arrive."""

    log: bool
    url: Name
    flush_seconds: Positive
    flush_rows: Count
    labels: Name


class MonitoringSettings(Section):
    """How much recent traffic `monitor` looks at, and how much drift is too much."""

    window_days: Positive
    min_rows: Count
    drift_share: Annotated[float, Field(gt=0, le=1)]


class RetrainingSettings(Section):
    """How many newly labelled rows `retrain` waits for."""

    min_new_rows: Count


class HotSwapSettings(Section):
    """How often the service checks which version is the champion."""

    interval_seconds: Positive


# The sections that each optional subpackage reads. A section is None only in a
# project without that subpackage, so the code that reads it never sees None.
SECTIONS_OF = {
    "serving": ("registry", "serving"),
    "monitoring": ("predictions", "monitoring", "retraining", "hot_swap"),
}


class Settings(BaseModel):
    """Everything a run depends on besides the code and the data."""

    # Other top-level keys are the team's own: DVC's params may hold them too.
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")

    root: Path
    data: DataSettings
    split: SplitSettings
    # scikit-learn checks the classifier's keyword arguments itself.
    model: dict[str, Any] = Field(default_factory=dict)
    tracking: TrackingSettings
    registry: RegistrySettings | None = None
    serving: ServingSettings | None = None
    predictions: PredictionSettings | None = None
    monitoring: MonitoringSettings | None = None
    retraining: RetrainingSettings | None = None
    hot_swap: HotSwapSettings | None = None

    @property
    def data_file(self) -> Path:
        """The CSV's location; a relative `data.path` is relative to `root`."""
        return self.root / self.data.path

    def flat(self) -> dict[str, Any]:
        """The parameters as MLflow logs them: one dotted key each, e.g. `model.C`."""
        sections = {
            "data": self.data.model_dump(),
            "split": self.split.model_dump(),
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
    raise SettingsError(
        f"No {PARAMS_FILE} in {start} or any folder above it: run from inside "
        "the project or pass --params."
    )


def load_settings(path: Path | None = None) -> Settings:
    """Read and check params.yaml (default: the nearest one); paths in it are
    relative to its folder."""
    path = path or find_params_file()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"Params file not found: {path}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise SettingsError(f"Cannot read {path}: {error}") from None
    if not isinstance(raw, dict):
        raise SettingsError(f"{path.name} must hold a mapping of sections.")
    try:
        settings = Settings.model_validate({**raw, "root": path.resolve().parent})
    except ValidationError as error:
        raise SettingsError(describe(error, path.name)) from None
    missing = [name for name in needed_sections() if getattr(settings, name) is None]
    if missing:
        raise SettingsError(
            f"{path.name} has no section {', '.join(map(repr, missing))}, which this "
            "project's code reads: copy it from the template's params.yaml "
            "(`copier update` adds it)."
        )
    return settings


def write_params(settings: Settings, path: Path) -> None:
    """Write `settings` to `path` as a params.yaml, e.g. for a scratch project."""
    values = settings.model_dump(mode="json", exclude={"root"}, exclude_none=True)
    path.write_text(yaml.safe_dump(values, sort_keys=False), encoding="utf-8")


def needed_sections() -> list[str]:
    """The optional sections that this project's subpackages read."""
    return [
        section
        for package, sections in SECTIONS_OF.items()
        if importlib.util.find_spec(f"{__package__}.{package}") is not None
        for section in sections
    ]


def describe(error: ValidationError, file_name: str) -> str:
    """One line per problem, each naming its dotted key, e.g. `split.seed`."""
    lines = [f"{file_name} has {error.error_count()} invalid setting(s):"]
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"])
        given = "" if problem["type"] == "missing" else f" (got {problem['input']!r})"
        lines.append(f"  {key}: {problem['msg']}{given}")
    return "\n".join(lines)
