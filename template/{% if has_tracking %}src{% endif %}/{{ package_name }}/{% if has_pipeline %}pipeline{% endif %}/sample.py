"""Rebuild the sample data from the copy that scikit-learn ships, byte for byte.

The result has the MD5 that data/raw/breast_cancer.csv.dvc records, so DVC takes
it for the versioned file. CI runs it (the `sample` command), with that path, before
`dvc repro`: the project's default DVC remote is a folder on the machine that
pushed, out of CI's reach. Once you train on your own data, have CI pull it
from a shared DVC remote instead.
"""

from pathlib import Path

from sklearn.datasets import load_breast_cancer


def write_sample(path: Path) -> None:
    """Write scikit-learn's breast cancer dataset to `path` as the project's CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = load_breast_cancer(as_frame=True).frame
    # The format the versioned file was written in: any other changes its hash.
    frame.to_csv(path, index=False, float_format="%.10g", lineterminator="\n")
