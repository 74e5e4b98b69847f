"""The sample data, and how CI gets the data that params.yaml names.

`write_sample` rebuilds the sample from the copy that scikit-learn ships, byte
for byte: the result has the MD5 that data/raw/breast_cancer.csv.dvc records,
so DVC takes it for the versioned file. The project's default DVC remote is a
folder on the machine that pushed, out of CI's reach, so CI's `get-data` step
rebuilds the sample; once data.path is your own data, the same step runs
`dvc pull` of it instead, from the shared remote that CI must then reach.
"""

import subprocess
from pathlib import Path

import pandas as pd
import yaml
from sklearn.datasets import load_breast_cancer

# The sample's MD5, as its .dvc file records it: how a data.path is known to be
# the sample, whatever its name, and not your own data written over it.
SAMPLE_MD5 = "32096955c9f591d27949f89afa851998"


def sample_frame() -> pd.DataFrame:
    """scikit-learn's breast cancer dataset: 569 rows, 30 features, `target`."""
    return load_breast_cancer(as_frame=True).frame


def write_sample(path: Path) -> None:
    """Write scikit-learn's breast cancer dataset to `path` as the project's CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The format the versioned file was written in: any other changes its hash.
    sample_frame().to_csv(path, index=False, float_format="%.10g", lineterminator="\n")


def is_the_sample(data_file: Path) -> bool:
    """Whether DVC versions `data_file` as the sample (its .dvc file's MD5)."""
    versioned = data_file.with_name(data_file.name + ".dvc")
    if not versioned.is_file():
        return False
    outs = yaml.safe_load(versioned.read_text()).get("outs", [])
    return [out.get("md5") for out in outs] == [SAMPLE_MD5]


def get_data(root: Path, data_path: str) -> str:
    """Bring data.path into the workspace: rebuild the sample, or `dvc pull`
    your own. What was done, as a line to print."""
    data_file = root / data_path
    if is_the_sample(data_file):
        write_sample(data_file)
        return f"rebuilt the sample data at {data_path}"
    pulled = subprocess.run(["dvc", "pull", data_path], cwd=root, check=False)
    if pulled.returncode != 0:
        raise ValueError(
            f"`dvc pull {data_path}` failed (above): version the file with DVC "
            f"(`uv run dvc add {data_path}`, then `uv run dvc push`) in a remote "
            "that CI can reach (`uv run dvc remote add -d shared <url>`), with its "
            'credentials as secrets; README.md, "CI", has the steps.'
        )
    return f"pulled {data_path} with DVC"
