"""Which input columns a model takes, and whether a champion takes the same.

A registered model is one line of models with the same input columns: the gate
scores the champion on the challenger's held-out rows, which a champion with
other columns cannot take. Data with other columns starts a new line, under a
new `registry.model_name`; the error says which name to set.
"""

import re

from mlflow.models import get_model_info

# How many of the changed columns an error names.
SHOWN_COLUMNS = 5


def input_columns(model_uri: str) -> list[str]:
    """The input columns of a logged or registered model, from its signature."""
    signature = get_model_info(model_uri).signature
    if signature is None or signature.inputs is None:
        raise ValueError(f"{model_uri} has no input signature.")
    return signature.inputs.input_names()


def check_same_inputs(name: str, champion: str, columns: list[str]) -> None:
    """ValueError, with the `registry.model_name` to set, when version `champion`
    of `name` takes other input columns than `columns`, in any order."""
    theirs = input_columns(f"models:/{name}/{champion}")
    gone = [column for column in theirs if column not in columns]
    new = [column for column in columns if column not in theirs]
    if not gone and not new:
        return
    raise ValueError(
        f"The champion of '{name}', version {champion}, takes other input columns "
        f"than this model (the input columns changed: {changed(gone, new)}). A "
        "model with other inputs starts a new registered model: set "
        f"`registry.model_name: {next_model_name(name)}` in params.yaml, then run "
        "`uv run dvc repro` again."
    )


def changed(gone: list[str], new: list[str]) -> str:
    """'3 gone: a, b, c; 1 new: d', naming at most SHOWN_COLUMNS of each."""
    parts = []
    for label, columns in (("gone", gone), ("new", new)):
        if columns:
            more = len(columns) - SHOWN_COLUMNS
            shown = ", ".join(columns[:SHOWN_COLUMNS])
            parts.append(
                f"{len(columns)} {label}: {shown}"
                + (f" and {more} more" if more > 0 else "")
            )
    return "; ".join(parts)


def next_model_name(name: str) -> str:
    """The name of the line after `name`: demo -> demo-v2 -> demo-v3."""
    numbered = re.fullmatch(r"(.+)-v(\d+)", name)
    if numbered is None:
        return f"{name}-v2"
    return f"{numbered.group(1)}-v{int(numbered.group(2)) + 1}"
