"""Load the raw data, identify it by its hash, and split it for evaluation."""

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

# A numeric target with more distinct values than this is a quantity to
# regress, not a set of classes.
MAX_CLASSES = 20


@dataclass(frozen=True)
class Dataset:
    """A loaded CSV together with what identifies it: its path and MD5 hash."""

    frame: pd.DataFrame
    path: Path
    md5: str
    target: str

    @property
    def features(self) -> pd.DataFrame:
        """Every column except the target."""
        return self.frame.drop(columns=self.target)

    @property
    def labels(self) -> pd.Series:
        """The target column."""
        return self.frame[self.target]


@dataclass(frozen=True)
class Split:
    """Training and held-out rows, with features (X) and labels (y) apart."""

    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series


def file_md5(path: Path) -> str:
    """MD5 of the file's bytes: the same hash `dvc add` writes into the .dvc file."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "md5").hexdigest()


def load_dataset(path: Path, target: str) -> Dataset:
    """Read the CSV at `path`; fail early and clearly if it or `target` is missing."""
    if not path.is_file():
        raise FileNotFoundError(
            f"Data file not found: {path}. Set data.path in params.yaml to your CSV."
        )
    frame = pd.read_csv(path)
    if target not in frame.columns:
        raise ValueError(
            f"{path.name} has no column {target!r}: set data.target in params.yaml "
            f"to the column to predict (the file has {len(frame.columns)} columns, "
            f"starting with {list(frame.columns[:5])})."
        )
    return Dataset(frame=frame, path=path, md5=file_md5(path), target=target)


def split_dataset(dataset: Dataset, test_size: float, seed: int) -> Split:
    """Hold out `test_size` of the rows, stratified when the classes allow it, so
    that both parts keep the class mix."""
    labels = dataset.labels
    check_classes(labels)
    X_train, X_test, y_train, y_test = train_test_split(
        dataset.features,
        labels,
        test_size=test_size,
        random_state=seed,
        stratify=labels if can_stratify(labels, test_size) else None,
    )
    return Split(X_train=X_train, X_test=X_test, y_train=y_train, y_test=y_test)


def check_classes(labels: pd.Series) -> None:
    """Refuse a target that holds quantities rather than classes: the model, the
    metrics, the gate and the monitor are those of a classifier."""
    values = labels.dropna()
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return
    distinct = values.nunique()
    if distinct > MAX_CLASSES or not (values == values.round()).all():
        raise ValueError(
            f"data.target {labels.name!r} holds {distinct} distinct numbers: this "
            "project does classification only, and regression is not supported. "
            "Set data.target in params.yaml to a column of classes, or turn the "
            "number into classes in your CSV (for example with pandas.cut) and "
            "point data.path at that file."
        )


def can_stratify(labels: pd.Series, test_size: float) -> bool:
    """Whether every class has 2 rows or more and both parts can hold each class;
    train_test_split refuses to stratify otherwise."""
    counts = labels.value_counts()
    held_out = math.ceil(test_size * len(labels))
    classes = len(counts)
    return counts.min() >= 2 and classes <= min(held_out, len(labels) - held_out)
