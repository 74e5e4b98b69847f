"""Run the serving API (app.py) under uvicorn, with what this project adds to it.

The champion is loaded from the registry that $MLFLOW_TRACKING_URI names, or
else from the project's mlflow.db. A project with the `monitoring` subpackage
also logs every prediction and swaps in a new champion without a restart:
those come as the app's start-up hooks.
"""

import gc
import importlib.util
import logging
import os
import sys
from functools import partial

import uvicorn
from mlflow.exceptions import MlflowException

from ..config import Settings
from .app import Hook, create_app
from .limits import http_options
from .model import Served, serve_champion
from .registry import CHAMPION, PROGRESS_BAR_VARIABLE

logger = logging.getLogger(__name__)

PACKAGE = __package__.rpartition(".")[0]


def project_hooks(settings: Settings) -> list[Hook]:
    """The prediction log and hot swap, in a project with `monitoring`."""
    if importlib.util.find_spec(f"{PACKAGE}.monitoring") is None:
        return []
    # Imported only where it exists: a level-3 project has no such subpackage.
    from ..monitoring import hot_swap, predictions, recording

    hooks: list[Hook] = []
    url = predictions.log_url(settings)
    if url is not None:
        log = recording.PredictionLog(
            url, settings.predictions.flush_seconds, settings.predictions.flush_rows
        )
        hooks.append(partial(recording.log_predictions, log))
    # Last in, so first out at shut-down: no swap while the log closes.
    hooks.append(partial(hot_swap.keep_champion_current, settings))
    return hooks


def load(settings: Settings) -> tuple[Served | None, str]:
    """The champion ready to serve, or None and why it is not."""
    try:
        served = serve_champion(settings)
    except (MlflowException, OSError, ValueError) as error:
        name = settings.registry.model_name
        reason = f"no {CHAMPION} model '{name}' loaded: {error}"
        logger.warning("Not ready: %s", reason)
        return None, reason
    logger.info("Serving %s", served.summary())
    return served, ""


def run(settings: Settings, host: str, port: int, access_log: bool = False) -> int:
    """Load the champion and serve it until stopped (Ctrl+C or SIGTERM)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    os.environ.setdefault(PROGRESS_BAR_VARIABLE, "false")
    try:
        hooks = project_hooks(settings)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    served, reason = load(settings)
    app = create_app(settings, served, reason, hooks)
    # What is loaded by now (MLflow, scikit-learn, the model) stays for the
    # process's life: out of the garbage collector's sight, it costs no pause
    # in the middle of a request.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=access_log,
        log_level="info",
        server_header=False,
        **http_options(app.state.service.metrics),
    )
    return 0
