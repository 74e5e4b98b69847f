"""The data contract: which columns the raw data has, their types and their ranges.

The pipeline's first stage, `prepare`, checks the raw CSV against CONTRACT before
anything uses it. Data that breaks the contract stops the pipeline with one line per
column and rule broken, instead of silently training a worse model.

The contract below was generated from the sample data, scikit-learn's breast cancer
dataset: 30 measurements of cell nuclei, each a float within the range the sample
spans (rounded outward to two significant digits), and a `target` of 0 (malignant)
or 1 (benign). No value may be missing, and no other column may appear.

For your own CSV, run the `contract` command on it (README.md, "The data contract",
has it): it prints a COLUMNS mapping generated the same way, to paste over the
one below. Then review it as a contract, not as a description of one file: set
each range to what the domain allows, and allow missing values
(`nullable=True`) only where they are expected; the model's imputers fill them.
"""

import json
import math

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from ..data import check_classes

COLUMNS = {
    "mean radius": pa.Column(float, pa.Check.in_range(6.9, 29.0)),
    "mean texture": pa.Column(float, pa.Check.in_range(9.7, 40.0)),
    "mean perimeter": pa.Column(float, pa.Check.in_range(43.0, 190.0)),
    "mean area": pa.Column(float, pa.Check.in_range(140.0, 2600.0)),
    "mean smoothness": pa.Column(float, pa.Check.in_range(0.052, 0.17)),
    "mean compactness": pa.Column(float, pa.Check.in_range(0.019, 0.35)),
    "mean concavity": pa.Column(float, pa.Check.in_range(0.0, 0.43)),
    "mean concave points": pa.Column(float, pa.Check.in_range(0.0, 0.21)),
    "mean symmetry": pa.Column(float, pa.Check.in_range(0.1, 0.31)),
    "mean fractal dimension": pa.Column(float, pa.Check.in_range(0.049, 0.098)),
    "radius error": pa.Column(float, pa.Check.in_range(0.11, 2.9)),
    "texture error": pa.Column(float, pa.Check.in_range(0.36, 4.9)),
    "perimeter error": pa.Column(float, pa.Check.in_range(0.75, 22.0)),
    "area error": pa.Column(float, pa.Check.in_range(6.8, 550.0)),
    "smoothness error": pa.Column(float, pa.Check.in_range(0.0017, 0.032)),
    "compactness error": pa.Column(float, pa.Check.in_range(0.0022, 0.14)),
    "concavity error": pa.Column(float, pa.Check.in_range(0.0, 0.4)),
    "concave points error": pa.Column(float, pa.Check.in_range(0.0, 0.053)),
    "symmetry error": pa.Column(float, pa.Check.in_range(0.0078, 0.079)),
    "fractal dimension error": pa.Column(float, pa.Check.in_range(0.00089, 0.03)),
    "worst radius": pa.Column(float, pa.Check.in_range(7.9, 37.0)),
    "worst texture": pa.Column(float, pa.Check.in_range(12.0, 50.0)),
    "worst perimeter": pa.Column(float, pa.Check.in_range(50.0, 260.0)),
    "worst area": pa.Column(float, pa.Check.in_range(180.0, 4300.0)),
    "worst smoothness": pa.Column(float, pa.Check.in_range(0.071, 0.23)),
    "worst compactness": pa.Column(float, pa.Check.in_range(0.027, 1.1)),
    "worst concavity": pa.Column(float, pa.Check.in_range(0.0, 1.3)),
    "worst concave points": pa.Column(float, pa.Check.in_range(0.0, 0.3)),
    "worst symmetry": pa.Column(float, pa.Check.in_range(0.15, 0.67)),
    "worst fractal dimension": pa.Column(float, pa.Check.in_range(0.055, 0.21)),
    "target": pa.Column(int, pa.Check.isin([0, 1])),
}

# strict: a column the contract does not know is an error, not a silent new feature.
# coerce: whole numbers in a float column are fine; text in it is not.
CONTRACT = pa.DataFrameSchema(COLUMNS, strict=True, coerce=True)

# A value of the wrong type also fails the column's other rules, and an empty value
# also fails the conversion to the column's type: report each problem once.
TYPE_CHECKS = ("dtype(", "coerce_dtype(")
NULL_CHECK = "not_nullable"
WHOLE_COLUMN_PROBLEMS = {
    "column_in_dataframe": "is missing",
    "column_in_schema": "is not in the contract",
}

# How many failing values each line of the report quotes.
EXAMPLES = 3

# Text columns with at most this many distinct values get a list of allowed values.
MAX_CATEGORIES = 20


class ContractError(ValueError):
    """The data breaks the contract; the message lists each column and rule broken."""


def check_contract(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Return `frame` with its columns converted to the contract's types.

    Raise ContractError naming every column and rule that `frame` (read from the
    CSV `source`) breaks. Validation is lazy, so one run reports every problem.
    """
    try:
        return CONTRACT.validate(frame, lazy=True)
    except SchemaErrors as errors:
        problems = describe_failures(errors.failure_cases)
        raise ContractError(
            f"{source} breaks the data contract in schema.py:\n"
            + "\n".join(f"  - {problem}" for problem in problems)
            + "\nFix the data, or change the contract if the data is right."
        ) from None


def describe_failures(failures: pd.DataFrame) -> list[str]:
    """One line per column and rule broken, from pandera's table of failure cases."""
    whole = failures["schema_context"] == "DataFrameSchema"
    lines = []
    # For these, pandera puts the column's name where the failing value goes.
    columns = failures.loc[whole, ["check", "failure_case"]]
    for check, column in columns.itertuples(index=False):
        problem = WHOLE_COLUMN_PROBLEMS.get(check, "fails")
        lines.append(f"column {column!r} {problem} (rule: {check})")
    by_column = failures[~whole].groupby("column", sort=False)
    # In the contract's order, which is the file's order for data that meets it.
    for column, cases in sorted(by_column, key=lambda item: _position(item[0])):
        for check, broken in _root_causes(cases).groupby("check", sort=False):
            count = len(broken)
            verb = "value breaks" if count == 1 else "values break"
            rule = f"the rule {check}: {_examples(broken)}"
            lines.append(f"column {column!r}: {count} {verb} {rule}")
    return lines


def _position(column: str) -> int:
    """Where `column` comes in the contract, for reports in a stable order."""
    names = list(COLUMNS)
    return names.index(column) if column in names else len(names)


def _root_causes(cases: pd.DataFrame) -> pd.DataFrame:
    """One column's failures, less those that another failure explains."""
    checks = cases["check"].astype(str)
    is_type = checks.str.startswith(TYPE_CHECKS)
    wrong_type = cases[is_type & cases["failure_case"].notna()]
    if not wrong_type.empty:
        # Text in a number column: say so once per value, not once per rule.
        return pd.concat(
            [wrong_type.drop_duplicates("index"), cases[checks == NULL_CHECK]]
        )
    return cases[~is_type]


def _examples(cases: pd.DataFrame) -> str:
    """The first few failing values, each with its line in the CSV."""
    shown = []
    first = cases[["check", "failure_case", "index"]].head(EXAMPLES)
    for check, value, index in first.itertuples(index=False):
        text = "empty" if check == NULL_CHECK else repr(_plain(value))
        # The frame's index counts data rows from 0; the header is line 1 of the CSV.
        where = f"line {int(index) + 2}" if pd.notna(index) else "the whole column"
        shown.append(f"{text} ({where})")
    more = ", ..." if len(cases) > EXAMPLES else ""
    return ", ".join(shown) + more


def _plain(value: object) -> object:
    """A NumPy scalar as the Python value it holds, so that it prints as `-5.0`."""
    return value.item() if hasattr(value, "item") else value


def suggest_columns(frame: pd.DataFrame, target: str) -> str:
    """Python source of a COLUMNS mapping that `frame` meets, to paste above.

    ValueError when `target` holds quantities: the project only classifies.
    """
    if target in frame.columns:
        check_classes(frame[target])
    lines = ["COLUMNS = {"]
    for name in frame.columns:
        rule = _suggest_column(frame[name], is_target=name == target)
        lines.append(f"    {_literal(name)}: {rule},")
    lines.append("}")
    return "\n".join(lines)


def _suggest_column(values: pd.Series, *, is_target: bool) -> str:
    """A pandera Column for one column of the data, as source text."""
    nullable = ", nullable=True" if values.isna().any() else ""
    present = values.dropna()
    if pd.api.types.is_bool_dtype(values):
        return f"pa.Column(bool{nullable})"
    if pd.api.types.is_numeric_dtype(values):
        kind = "int" if pd.api.types.is_integer_dtype(values) else "float"
        if is_target:
            classes = _literal(sorted(present.unique().tolist()))
            return f"pa.Column({kind}, pa.Check.isin({classes}){nullable})"
        low = _round_outward(float(present.min()), up=False)
        high = _round_outward(float(present.max()), up=True)
        return f"pa.Column({kind}, pa.Check.in_range({low!r}, {high!r}){nullable})"
    categories = sorted(present.astype(str).unique().tolist())
    if is_target or len(categories) <= MAX_CATEGORIES:
        return f"pa.Column(str, pa.Check.isin({_literal(categories)}){nullable})"
    return f"pa.Column(str{nullable})"


def _literal(value: object) -> str:
    """`value` as Python source, with strings in double quotes as ruff writes them."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    return repr(value)


def _round_outward(value: float, *, up: bool) -> float:
    """`value` rounded away from the data to two significant digits: 6.981 -> 6.9."""
    if value == 0 or not math.isfinite(value):
        return value
    digits = 1 - math.floor(math.log10(abs(value)))
    scaled = value * 10**digits
    bound = math.ceil(scaled) if up else math.floor(scaled)
    return float(round(bound / 10**digits, max(digits, 0)))
