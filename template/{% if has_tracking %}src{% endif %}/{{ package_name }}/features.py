"""Feature preprocessing: turn raw columns into what the classifier needs."""

from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def build_preprocessor(features: pd.DataFrame) -> ColumnTransformer:
    """Impute and scale numeric columns; impute and one-hot encode the others.

    The columns are listed by name from the training data, so the fitted model
    checks that the data it predicts on has the same columns.
    """
    numeric = features.select_dtypes(include="number").columns.tolist()
    categorical = [column for column in features.columns if column not in numeric]
    return ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                numeric,
            ),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            ),
        ]
    )


def imputed_columns(model: Pipeline) -> set[str]:
    """The input columns whose missing values the fitted model's preprocessing fills.

    It reads the fitted ColumnTransformer (build_preprocessor's), so a column is
    named only when the model itself imputes it, whatever the data held.
    """
    imputed: set[str] = set()
    for step in model.named_steps.values():
        if isinstance(step, ColumnTransformer):
            for _, transformer, columns in step.transformers_:
                if _imputes(transformer) and not isinstance(columns, str):
                    imputed.update(columns)
    return imputed


def _imputes(transformer: Any) -> bool:
    """Whether `transformer` is an imputer or a pipeline that holds one."""
    if isinstance(transformer, Pipeline):
        return any(_imputes(step) for _, step in transformer.steps)
    return isinstance(transformer, SimpleImputer)
