"""`mlops-levels assess --no-input --json` on synthetic repositories of 1,000 to 200,000 files.

Each tree is a realistic small ML repository repeated over many folders: Python
modules that import ML libraries, a test that asserts, a notebook, YAML
configuration, a README and data files, plus one pyproject.toml, a dvc.yaml and
a GitHub workflow at the root. Setup writes the trees (untimed); each sample is
one `assess` process on one of them.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.harness import Case, Command, Comparison, Context, Results, Target, time_command

SIZES = (1_000, 20_000, 200_000)
# The targets: seconds at most, per size, and linear in files.
TARGET_SECONDS = {1_000: 1.0, 200_000: 5.0}
LINEAR_RATIO = 1.5  # per-file cost at 200,000 over that at 20,000
# A monorepo of the largest size, each sub-project assessed too (no target: a report).
MONOREPO = (200_000, 100)

MODULE = '''"""Feature building for part {n}."""

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression


def build(frame: pd.DataFrame) -> np.ndarray:
    return frame.to_numpy() * {n}


def fit(frame: pd.DataFrame, target: pd.Series) -> LogisticRegression:
    return LogisticRegression().fit(build(frame), target)
'''
TEST = """from part{n}.features import build


def test_build_scales_by_{n}(frame):
    assert build(frame).sum() >= 0
"""
NOTEBOOK = json.dumps(
    {
        "cells": [
            {"cell_type": "code", "source": ["import pandas as pd\n", "pd.read_csv('x.csv')\n"]}
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
)
CONFIG = "model:\n  C: 1.0\n  max_iter: {n}\ndata:\n  path: data/raw/part{n}.csv\n"
# One part: ten files in a folder of its own; `{n}` is the part's number.
PART = {
    "__init__.py": "",
    "features.py": MODULE,
    "train.py": "from part{n}.features import fit\n\n"
    "if __name__ == '__main__':\n    fit(None, None)\n",
    "test_features.py": TEST,
    "explore.ipynb": NOTEBOOK,
    "params.yaml": CONFIG,
    "README.md": "# Part {n}\n\nTrains a model on part {n} of the data.\n",
    "data.csv": "a,b,target\n1,2,0\n3,4,1\n",
    "schema.json": '{"columns": ["a", "b", "target"], "part": {n}}',
    "notes.txt": "Nothing to see in part {n}.\n",
}
ROOT = {
    "pyproject.toml": '[project]\nname = "synthetic"\nversion = "0.1.0"\n'
    'dependencies = ["numpy", "pandas", "scikit-learn"]\n',
    "dvc.yaml": "stages:\n  train:\n    cmd: python -m part0.train\n    deps: [part0]\n",
    ".github/workflows/ci.yml": "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
    "    steps:\n      - uses: actions/checkout@v4\n      - run: pip install -e .\n"
    "      - run: pytest\n",
}
PARTS_PER_FOLDER = 50  # parts are grouped in folders, as a large repository's packages are


def make_tree(dest: Path, files: int, projects: int = 0) -> Path:
    """A repository of `files` files: the root's few, parts of ten files each, and data
    files to make up the count; with `projects`, that many of its folders of parts
    declare a project of their own (a pyproject.toml in place of a part's notes)."""
    parts, extra = divmod(files - len(ROOT), len(PART))
    for name, text in ROOT.items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_text(text, encoding="utf-8")
    (dest / "data").mkdir()
    for n in range(extra):
        (dest / "data" / f"extra{n}.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    for n in range(parts):
        part = dest / f"group{n // PARTS_PER_FOLDER}" / f"part{n}"
        part.mkdir(parents=True)
        for name, text in PART.items():
            (part / name).write_text(text.replace("{n}", str(n)), encoding="utf-8")
        if n % PARTS_PER_FOLDER == 0 and n // PARTS_PER_FOLDER < projects:
            (part / "notes.txt").unlink()
            (part.parent / "pyproject.toml").write_text(ROOT["pyproject.toml"], encoding="utf-8")
    return dest


def case_name(files: int, projects: int = 0) -> str:
    return f"assess {files:,} files" + (f" in {projects} projects" if projects else "")


def setup(
    context: Context, sizes: tuple[int, ...] = SIZES, monorepo: tuple[int, int] | None = MONOREPO
) -> list[Case]:
    mlops_levels = context.scripts / "mlops-levels"
    cases = []
    shapes = [(files, 0) for files in sizes] + ([monorepo] if monorepo else [])
    for files, projects in shapes:
        tree = make_tree(context.work / f"tree-{files}-{projects}", files, projects)
        command = Command([mlops_levels, "assess", tree, "--no-input", "--json"], tree, context.env)
        cases.append(
            Case(case_name(files, projects), lambda _folder, command=command: time_command(command))
        )
    return cases


def targets(results: Results) -> list[Target]:
    medians = {files: results.get(case_name(files)) for files in SIZES}
    found = []
    for files, limit in TARGET_SECONDS.items():
        goal = f"{files:,} files in at most {limit:.0f} s"
        result = medians[files]
        if result is None or result.median is None:
            found.append(Target(goal, "not measured", None))
        else:
            found.append(Target(goal, f"{result.median:.2f} s", result.median <= limit))
    goal = f"linear: per-file cost at 200,000 at most {LINEAR_RATIO}x that at 20,000"
    small, large = medians[20_000], medians[200_000]
    if small is None or large is None or small.median is None or large.median is None:
        return [*found, Target(goal, "not measured", None)]
    ratio = (large.median / 200_000) / (small.median / 20_000)
    return [*found, Target(goal, f"{ratio:.2f}x", ratio <= LINEAR_RATIO)]


COMPARISON = Comparison(
    name="assess",
    title="`assess` on synthetic repositories",
    setup=setup,
    targets=targets,
)
