"""Own data, as the generated README's "Use your own data" section tells it.

A level-4 project (a copy of the shared installed one) switches to a
penguins-like CSV: two text columns, numbers with missing values and a
3-class text label. Only params.yaml and the pasted contract change; the
pipeline runs, the whole generated suite passes, and the served model takes real rows,
text and missing values included, because every column it imputes is optional.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import free_port, request, run, start_service

pytestmark = pytest.mark.slow

PACKAGE = "churn_model"
ROWS = 300
SPECIES = ["Adelie", "Chinstrap", "Gentoo"]


def penguins(rows: int = ROWS) -> pd.DataFrame:
    """Rows like the Palmer penguins', deterministic."""
    rng = np.random.default_rng(0)
    species = rng.choice(SPECIES, size=rows)
    size = pd.Series(species).map(dict(zip(SPECIES, (0.0, 4.0, 8.0), strict=True))).to_numpy()
    frame = pd.DataFrame(
        {
            "island": rng.choice(["Biscoe", "Dream", "Torgersen"], size=rows),
            "bill_length_mm": (39 + size + rng.normal(0, 2, rows)).round(1),
            "flipper_length_mm": (190 + 3 * size + rng.normal(0, 5, rows)).round(),
            "body_mass_g": (3700 + 150 * size + rng.normal(0, 300, rows)).round(),
            "sex": rng.choice(["female", "male"], size=rows).astype(object),
            "species": species,
        }
    )
    for column in ("bill_length_mm", "body_mass_g", "sex"):
        frame.loc[rng.choice(rows, 8, replace=False), column] = None
    return frame


def switch_params(params: Path) -> None:
    """params.yaml pointed at the new data, with a registry model of its own."""
    text = params.read_text()
    for old, new in (
        ("path: data/raw/breast_cancer.csv", "path: data/raw/penguins.csv"),
        ("target: target", "target: species"),
        (f'model_name: "{PACKAGE.replace("_", "-")}"', 'model_name: "penguins"'),
    ):
        assert old in text, old
        text = text.replace(old, new, 1)
    params.write_text(text)


def paste_contract(schema: Path, columns: str) -> None:
    """The `contract` command's COLUMNS pasted over those of schema.py."""
    text, count = re.subn(
        r"^COLUMNS = \{\n.*?^\}\n",
        lambda _: columns.strip() + "\n",
        schema.read_text(),
        count=1,
        flags=re.DOTALL | re.MULTILINE,
    )
    assert count == 1
    schema.write_text(text)


@pytest.fixture
def level_4(installed) -> Path:
    """The shared installed project, never changed here: copied below."""
    return installed(4)


def test_a_project_switched_to_text_missing_values_and_three_classes(
    level_4, tmp_path, monkeypatch
):
    project = tmp_path / "own-data"
    # Its own environment, linked from uv's cache in seconds (copying the
    # installed one's takes half a minute); the commands write the bytecode
    # of what they import, once, instead of compiling it all up front.
    shutil.copytree(level_4, project, ignore=shutil.ignore_patterns(".venv"))
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    run(project, "uv", "sync", "--quiet")
    frame = penguins()
    frame.to_csv(project / "data" / "raw" / "penguins.csv", index=False)
    switch_params(project / "params.yaml")

    columns = run(project, "uv", "run", PACKAGE, "contract", "data/raw/penguins.csv").stdout
    assert '"sex": pa.Column(str, pa.Check.isin(["female", "male"]), nullable=True)' in columns
    assert '"species": pa.Column(str, pa.Check.isin(["Adelie", "Chinstrap", "Gentoo"]))' in columns
    paste_contract(project / "src" / PACKAGE / "pipeline" / "schema.py", columns)

    repro = run(project, "uv", "run", "dvc", "repro").stdout
    assert "v1 is the new champion" in repro, repro
    plots = project / "reports" / "plots"
    assert all(len(pd.read_csv(path)) <= 1000 for path in plots.glob("*.csv"))
    # The README's promise: the tests read the configured data, not the sample.
    run(project, "uv", "run", "pytest", "-q", "-p", "no:cacheprovider")

    serve_real_rows(project, frame, tmp_path / "service.log")


def serve_real_rows(project: Path, frame: pd.DataFrame, log: Path) -> None:
    """The champion answers rows with their text, and with None where the data
    misses a value, in any column the model imputes."""
    port = free_port()
    service = start_service(project, ["-m", PACKAGE, "serve", "--port", str(port)], port, log)
    try:
        rows = frame.drop(columns="species").head(5).astype(object)
        body = rows.where(rows.notna(), None).to_dict(orient="records")
        body.append(dict.fromkeys(body[0]))
        status, answer = request(f"http://127.0.0.1:{port}/predict", {"rows": body})
        assert status == 200, answer
        assert set(answer["predictions"]) <= set(SPECIES)
    finally:
        service.terminate()
        service.wait(timeout=30)
