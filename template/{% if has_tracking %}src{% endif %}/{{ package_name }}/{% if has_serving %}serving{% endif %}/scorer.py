"""Scoring for the serving API: the default model's arithmetic in NumPy, or
scikit-learn for any other model.

scikit-learn checks its input and routes columns by name on every call, which
costs about 3 ms a request however few its rows, some thirty times the model's
own arithmetic. For the default model (numeric columns, median imputation,
standard scaling, logistic regression), `compile_model` reads the fitted
parameters once and returns a function that does the same arithmetic on a
float array.

The function is checked against the model's own `predict_proba` when the model
loads. Any other model, or any difference, keeps scikit-learn: a model you
swap in (README, "Replace the model") is served as it is, only slower. The
scorer says which path serves and why (`/model`, `/metrics`, the start-up log),
so a change to features.py or train.py that turns the fast path off shows.

Whatever the model, its answer goes out as JSON: numeric arrays contiguous,
as orjson writes them, and labels of any other type (strings, say) as lists,
so that class labels come back as the data has them. And the model scores
with a bounded number of threads (`serving.threads`).
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.special import expit, softmax
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import ThreadpoolController

# Rows of numbers, in the columns' order -> one row of class probabilities each.
Probabilities = Callable[[np.ndarray], np.ndarray]

NUMPY = "numpy"
SCIKIT_LEARN = "scikit-learn"

# The default model's steps: the preprocessing, then the classifier.
PIPELINE_STEPS = 2

# How many rows the check scores both ways, and how close they must agree.
CHECK_ROWS = 64
TOLERANCE = 1e-9


class Compiled(NamedTuple):
    """The fast path, or None and the reason the model does not get one."""

    probabilities: Probabilities | None
    reason: str


class DefaultParts(NamedTuple):
    """The fitted steps of the default model, and where its columns are."""

    order: list[int]
    imputer: SimpleImputer
    scaler: StandardScaler
    classifier: LogisticRegression


def compile_model(model: Any, columns: list[str]) -> Compiled:
    """`predict_proba` of the default model as NumPy, checked; else why not."""
    parts = default_parts(model, columns)
    if isinstance(parts, str):
        return Compiled(None, parts)
    probabilities = numpy_probabilities(parts)
    sample = sample_rows(len(columns), parts)
    expected = model.predict_proba(pd.DataFrame(sample, columns=columns))
    if not np.allclose(probabilities(sample), expected, rtol=TOLERANCE, atol=TOLERANCE):
        return Compiled(None, "its NumPy arithmetic differs from predict_proba")
    return Compiled(probabilities, "the default model, checked against scikit-learn")


def numpy_probabilities(parts: DefaultParts) -> Probabilities:
    """The default model's `predict_proba`, on a float array of the columns."""
    order, imputer, scaler, classifier = parts
    fill = imputer.statistics_
    mean = scaler.mean_ if scaler.with_mean else 0.0
    scale = scaler.scale_ if scaler.with_std else 1.0
    weights, intercept = classifier.coef_.T, classifier.intercept_

    def probabilities(rows: np.ndarray) -> np.ndarray:
        values = rows[:, order]
        values = np.where(np.isnan(values), fill, values)
        scores = ((values - mean) / scale) @ weights + intercept
        if scores.shape[1] == 1:
            positive = expit(scores[:, 0])
            return np.column_stack([1 - positive, positive])
        return softmax(scores, axis=1)

    return probabilities


def pipeline_problem(model: object) -> str | None:
    """Why `model` is not a ColumnTransformer then a LogisticRegression, if so."""
    if not (isinstance(model, Pipeline) and len(model.steps) == PIPELINE_STEPS):
        return "the model is not a two-step scikit-learn Pipeline"
    if type(model[-1]) is not LogisticRegression:
        return f"the classifier is {type(model[-1]).__name__}, not LogisticRegression"
    if not isinstance(model[0], ColumnTransformer):
        return "the first step is not a ColumnTransformer"
    return None


def default_parts(model: Any, columns: list[str]) -> DefaultParts | str:
    """The fitted steps of the default model, or why `model` is not exactly that."""
    problem = pipeline_problem(model)
    if problem is not None:
        return problem
    preprocess, classifier = model[0], model[-1]
    used = [
        (transformer, list(selected))
        for _, transformer, selected in preprocess.transformers_
        if transformer != "drop" and len(selected)
    ]
    if len(used) != 1 or sorted(used[0][1]) != sorted(columns):
        return "the columns do not all go through one numeric branch"
    [(branch, selected)] = used
    steps = [step for _, step in getattr(branch, "steps", [])]
    if [type(step) for step in steps] != [SimpleImputer, StandardScaler]:
        return "the numeric branch is not SimpleImputer then StandardScaler"
    imputer, scaler = steps
    if imputer.add_indicator:
        return "the imputer adds indicator columns"
    order = [columns.index(name) for name in selected]
    return DefaultParts(order, imputer, scaler, classifier)


def sample_rows(width: int, parts: DefaultParts) -> np.ndarray:
    """Rows around the training data, one with a missing value, for the check."""
    centre = parts.imputer.statistics_
    spread = parts.scaler.scale_ if parts.scaler.with_std else 1.0
    rng = np.random.default_rng(0)
    rows = np.empty((CHECK_ROWS, width))
    rows[:, parts.order] = centre + spread * rng.normal(
        size=(CHECK_ROWS, len(parts.order))
    )
    rows[0, parts.order[0]] = np.nan
    return rows


def jsonable(values: Any) -> np.ndarray | list[Any]:
    """`values` as orjson writes them: a C-contiguous array of numbers, else a list.

    orjson writes only C-contiguous NumPy arrays of numbers; LightGBM, for one,
    returns probabilities in Fortran order, and string labels are object arrays.
    """
    array = np.asarray(values)
    if array.dtype.kind in "biuf":
        return np.ascontiguousarray(array)
    return array.tolist()


def limit_jobs(model: Any, threads: int) -> None:
    """Set every `n_jobs` setting of the model, its steps' included, to `threads`.

    Models that run in joblib's workers (a random forest, say) take their
    thread count there, not from the OpenMP and BLAS limits the scorer sets.
    """
    if not hasattr(model, "get_params"):
        return
    jobs = {name: threads for name in model.get_params() if name.endswith("n_jobs")}
    if jobs:
        model.set_params(**jobs)


class Scorer:
    """Predictions, and probabilities where the model has them, for validated rows."""

    def __init__(self, model: Any, columns: list[str], threads: int = 1) -> None:
        self.model = model
        self.columns = columns
        self.classes = getattr(model, "classes_", None)
        self.has_probabilities = (
            hasattr(model, "predict_proba") and self.classes is not None
        )
        self.fast, self.reason = compile_model(model, columns)
        # OpenMP and BLAS start one thread per core by default: one row of a
        # gradient boosting model then takes many times what it takes on one
        # thread, and a request takes every core from the others. The libraries
        # are found once, now that the model has loaded them; the limit is set
        # around each call, which costs microseconds, so that it holds in the
        # thread that scores, whichever that is.
        self.threads = threads
        self.controller = ThreadpoolController()
        limit_jobs(model, threads)

    @property
    def path(self) -> str:
        """Which code scores: the NumPy fast path or scikit-learn."""
        return NUMPY if self.fast is not None else SCIKIT_LEARN

    def score(self, rows: list[list[Any]]) -> dict[str, Any]:
        """Predictions (and probabilities) for validated rows; ValueError if none."""
        # Extreme values overflow to inf or nan; the check below refuses them.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if self.fast is not None:
                probabilities = self.fast(np.array(rows, dtype=float))
            else:
                # The pipeline's ColumnTransformer selects columns by name.
                frame = pd.DataFrame(rows, columns=self.columns)
                with self.controller.limit(limits=self.threads):
                    if not self.has_probabilities:
                        return {"predictions": jsonable(self.model.predict(frame))}
                    probabilities = self.model.predict_proba(frame)
        if not np.isfinite(probabilities).all():
            raise ValueError("values too large for the model: it gives no probability")
        return {
            "predictions": jsonable(self.classes[probabilities.argmax(axis=1)]),
            "classes": jsonable(self.classes),
            "probabilities": jsonable(probabilities),
        }
