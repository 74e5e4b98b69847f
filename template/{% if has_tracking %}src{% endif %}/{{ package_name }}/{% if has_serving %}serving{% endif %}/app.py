"""The serving API: a FastAPI app that serves the registry's champion model.

The champion is loaded while the app already answers (loader.py), and held in
memory. Until it is (it is still loading, no pipeline run has promoted a model
yet, or the registry is out of reach), `/health` answers, `/ready` says why it
is not ready with a 503, and so does `/predict`, so an orchestrator keeps the
process up instead of restarting it in a loop.

What a project adds to the service (the prediction log, hot swap) comes as
start-up hooks: each is entered when the app starts and left when it stops.

- `GET /health`: the process is up.
- `GET /ready`: 200 once a model is loaded, else 503 and the reason.
- `POST /predict`: `{"rows": [{column: value, ...}, ...]}`, checked against the
  columns of the model's signature (names, types, nothing missing, nothing
  else), at most `serving.max_batch_size` rows; a 422 names each wrong field.
- `GET /model`: name, version, alias, run id and training time of the model,
  and which scorer serves it (the NumPy fast path or scikit-learn) and why.
- `GET /metrics`: request, latency and prediction counters for Prometheus.
"""

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any
from uuid import uuid4

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from pydantic import ValidationError

from ..config import Settings
from .limits import MAX_ERRORS, clip
from .metrics import MEDIA_TYPE, Metrics
from .middleware import Guard
from .model import Served
from .schemas import JSON, ModelDescription, Prediction, Status

# Told of each answered batch: request id, model name and version, the body as
# it came, and the predictions. The prediction log is one.
Listener = Callable[[str, str, str, bytes, Any], None]


@dataclass
class Service:
    """What the routes share: the model served (or why none), metrics, listeners."""

    served: Served | None
    reason: str
    metrics: Metrics = field(default_factory=Metrics)
    listeners: list[Listener] = field(default_factory=list)
    # What /ready reports besides the model, by name: the prediction log's
    # counts, where there is one, so that a log that drops rows shows there.
    details: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)

    def detail(self) -> dict[str, Any]:
        return {name: read() for name, read in self.details.items()}

    def serve(self, served: Served) -> None:
        """Serve `served` from the next request on. One assignment: a request
        already answering keeps the model it started with."""
        self.served = served
        self.metrics.serving(served)


# Entered at start-up with the service, left at shut-down.
Hook = Callable[[Service], AbstractAsyncContextManager[None]]


class NotReady(Exception):
    """No model is loaded; the message says why."""


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response written by orjson, which also writes NumPy arrays directly."""
    body = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code=status_code, headers=headers, media_type=JSON)


def invalid_request(error: ValidationError) -> Response:
    """A 422 whose errors each name the field; the client's input is not echoed,
    a name or message quotes at most a short prefix of it, and a body wrong in
    many places gets its first few errors and their count."""
    problems = [
        {
            "loc": ["body", *(clip(part) for part in problem["loc"])],
            "msg": clip(problem["msg"]),
            "type": problem["type"],
        }
        for problem in error.errors(include_url=False)[:MAX_ERRORS]
    ]
    return json_response(
        {"detail": problems, "error_count": error.error_count()}, status_code=422
    )


async def not_ready(request: Request, error: Exception) -> Response:
    detail = request.app.state.service.detail()
    return json_response({"status": "not ready", "reason": str(error), **detail}, 503)


# The dependencies are async so that FastAPI calls them on the event loop, not
# in a worker thread, which would cost more than they do.
async def current_service(request: Request) -> Service:
    return request.app.state.service


async def served_model(
    service: Annotated[Service, Depends(current_service)],
) -> Served:
    """The model this request uses, read once: a swap meanwhile does not change it."""
    if service.served is None:
        raise NotReady(service.reason)
    return service.served


ServiceDependency = Annotated[Service, Depends(current_service)]
ServedDependency = Annotated[Served, Depends(served_model)]
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": Status, "description": "No model is loaded"}
}

router = APIRouter()


@router.get("/health", response_model=Status)
async def health() -> Response:
    """The process is up; it may still have no model (see /ready)."""
    return json_response({"status": "ok"})


@router.get("/ready", response_model=Status, responses=UNAVAILABLE)
async def ready(_served: ServedDependency, service: ServiceDependency) -> Response:
    """200 once a model is loaded and can answer /predict, else 503 and why."""
    return json_response({"status": "ready", **service.detail()})


@router.get("/model", response_model=ModelDescription, responses=UNAVAILABLE)
async def model(served: ServedDependency) -> Response:
    """Which registered model version answers /predict, and which scorer."""
    return Response(served.describe().model_dump_json(), media_type=JSON)


@router.get("/metrics", include_in_schema=False)
async def prometheus(service: ServiceDependency) -> Response:
    return Response(service.metrics.exposition(), media_type=MEDIA_TYPE)


# The body is validated here rather than by FastAPI, against the schema of the
# model being served, which a hot swap may bring in. async def: scoring is
# quick CPU work, cheaper on the event loop than in a thread, and one worker
# scores one batch at a time either way.
@router.post(
    "/predict",
    response_model=Prediction,
    responses={422: {"description": "A field is wrong"}, **UNAVAILABLE},
)
async def predict(
    request: Request, served: ServedDependency, service: ServiceDependency
) -> Response:
    """Predict a batch of rows, each with every column of the model's signature."""
    body = await request.body()
    try:
        batch = served.body.model_validate_json(body)
    except ValidationError as error:
        return invalid_request(error)
    rows = [list(row.__dict__.values()) for row in batch.rows]
    try:
        answer = served.scorer.score(rows)
    except ValueError as error:
        return json_response(
            {"detail": f"The model cannot score these rows: {error}"}, 422
        )
    request_id = uuid4().hex
    champion = served.champion
    for listener in service.listeners:
        listener(
            request_id, champion.name, champion.version, body, answer["predictions"]
        )
    service.metrics.rows.inc(len(rows))
    return json_response(
        {
            "request_id": request_id,
            "model_name": champion.name,
            "model_version": champion.version,
            **answer,
        },
        headers={"X-Request-ID": request_id},
    )


@asynccontextmanager
async def run_hooks(app: FastAPI) -> AsyncIterator[None]:
    """Enter the start-up hooks in order; leave them in reverse at shut-down."""
    async with AsyncExitStack() as stack:
        for hook in app.state.hooks:
            await stack.enter_async_context(hook(app.state.service))
        yield


def document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI schema, with /predict's body as the served model takes it.

    Made again when another model serves: the first one loads after start-up,
    and a hot swap may bring in another."""
    served = app.state.service.served
    if app.openapi_schema is None or app.state.documented is not served:
        schema = get_openapi(
            title=app.title,
            version=served.champion.version if served is not None else "none",
            description=app.description,
            routes=app.routes,
        )
        if served is not None:
            schema["paths"]["/predict"]["post"]["requestBody"] = served.request_doc()
        app.openapi_schema = schema
        app.state.documented = served
    return app.openapi_schema


def create_app(
    settings: Settings,
    served: Served | None,
    reason: str = "",
    hooks: Sequence[Hook] = (),
    metrics: Metrics | None = None,
) -> FastAPI:
    """The API around a loaded model, or around none, for the given reason.

    `metrics` are the server's, when it counts in them before the app exists.
    """
    service = Service(served, reason, metrics or Metrics())
    if served is not None:
        service.metrics.serving(served)
    app = FastAPI(
        title=f"{settings.registry.model_name} serving API",
        description="Predictions from the registry's champion model.",
        lifespan=run_hooks,
    )
    app.state.service = service
    app.state.documented = None
    app.state.hooks = list(hooks)
    app.add_middleware(
        Guard, max_bytes=settings.serving.max_request_bytes, metrics=service.metrics
    )
    app.add_exception_handler(NotReady, not_ready)
    app.include_router(router)
    # FastAPI's documented way to change the schema it serves at /openapi.json.
    app.openapi = partial(document, app)
    return app
