"""The API's bodies: /predict's request, built from the model's signature, and
the answers of every route.

A request is checked against the columns of the model being served (names,
types, nothing missing, nothing else), so its schema is made when a model
loads rather than written here. A column the signature marks optional, one
whose missing values the model imputes, takes null; its key is still required,
so that a misspelt or forgotten column is refused rather than imputed.
"""

from datetime import datetime
from typing import Annotated, Any

from mlflow.types.schema import ColSpec, DataType
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from pydantic import create_model as create_pydantic_model

JSON = "application/json"

# Python types for the column types of an MLflow signature. Strict: a string is
# not a number, even "1.5"; finite: JSON's NaN and Infinity are refused too.
# Bounded, and the schema says so: a number near float's limit (1.8e308)
# overflows any model's arithmetic, which then gives no probability. 1e100 is
# far beyond any measurement, and standardized by the smallest spread a column
# has, weighted and summed, it stays finite.
MAX_MAGNITUDE = 1e100
FiniteFloat = Annotated[
    float,
    Field(strict=True, allow_inf_nan=False, ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE),
]
# Integers as the model's signature types them: 64 and 32 bits.
Long = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]
Integer = Annotated[StrictInt, Field(ge=-(2**31), le=2**31 - 1)]
COLUMN_TYPES: dict[DataType, Any] = {
    DataType.double: FiniteFloat,
    DataType.float: FiniteFloat,
    DataType.long: Long,
    DataType.integer: Integer,
    DataType.string: StrictStr,
    DataType.boolean: StrictBool,
}
Label = StrictInt | StrictStr | StrictBool | float
# A value of each column type, for the example row in the API's documentation:
# it shows the body's shape; `example-request` prints rows of the real data.
EXAMPLE_VALUES: dict[DataType, Any] = {
    DataType.double: 0.0,
    DataType.float: 0.0,
    DataType.long: 0,
    DataType.integer: 0,
    DataType.string: "text",
    DataType.boolean: False,
}


class ModelDescription(BaseModel):
    name: str
    version: str
    alias: str
    run_id: str
    trained_at: datetime
    scorer: str = Field(description="numpy (the fast path) or scikit-learn")
    scorer_reason: str = Field(description="Why this scorer serves the model")


class Prediction(BaseModel):
    request_id: str = Field(
        description="This answer's id, also in the X-Request-ID header, and the "
        "key that joins a label to a logged prediction"
    )
    model_name: str
    model_version: str
    predictions: list[Label]
    classes: list[Label] | None = Field(
        None,
        description="The model's classes, in the order of each row's probabilities",
    )
    probabilities: list[list[float]] | None = None


class Status(BaseModel):
    status: str
    reason: str | None = None
    # /ready's, with a prediction log: rows written, dropped, queued, and why
    # writes fail.
    prediction_log: dict[str, Any] | None = None


def row_model(columns: list[ColSpec]) -> type[BaseModel]:
    """One row of /predict: exactly the model's columns, each of its type, or
    null where the signature makes the column optional."""
    fields: dict[str, Any] = {}
    for position, column in enumerate(columns):
        kind = COLUMN_TYPES[column.type]
        nullable = kind if column.required else kind | None
        fields[f"column_{position}"] = (nullable, Field(alias=column.name))
    return create_pydantic_model(
        "Row", __config__=ConfigDict(extra="forbid", populate_by_name=False), **fields
    )


def request_model(row: type[BaseModel], max_batch_size: int) -> type[BaseModel]:
    """The body of /predict: a batch of at most `max_batch_size` rows."""
    batch = Annotated[list[row], Field(min_length=1, max_length=max_batch_size)]
    return create_pydantic_model(
        "PredictRequest", __config__=ConfigDict(extra="forbid"), rows=(batch, ...)
    )


def request_body_doc(
    row: type[BaseModel], columns: list[ColSpec], max_batch_size: int
) -> dict[str, Any]:
    """/predict's request body for the API's documentation, inlined, with an
    example row."""
    rows = {
        "type": "array",
        "items": row.model_json_schema(),
        "minItems": 1,
        "maxItems": max_batch_size,
    }
    schema = {
        "type": "object",
        "properties": {"rows": rows},
        "required": ["rows"],
        "additionalProperties": False,
    }
    example = {column.name: EXAMPLE_VALUES[column.type] for column in columns}
    return {
        "required": True,
        "content": {JSON: {"schema": schema, "example": {"rows": [example]}}},
    }
