"""Run the serving API (app.py) under uvicorn, with what this project adds to it.

The server binds before the champion loads: the champion comes in the
background (loader.py) from the registry that $MLFLOW_TRACKING_URI names, or
else from the project's mlflow.db, so `/health` answers whatever the registry
does. A project with the `monitoring` subpackage also logs every prediction and
swaps in a new champion without a restart. Each comes as a start-up hook.
"""

import gc
import importlib.util
import logging
import os
import sys
from functools import partial

import uvicorn

from ..config import Settings
from .app import Hook, create_app
from .loader import follow_champion
from .registry import PROGRESS_BAR_VARIABLE

PACKAGE = __package__.rpartition(".")[0]

# MLflow's HTTP client waits 120 s per request and retries 7 times with a
# growing back-off: minutes per load against a registry that is down. These
# bound each attempt to about 20 s; the loader tries again after that. Set the
# variables to override them.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}


def project_hooks(settings: Settings) -> list[Hook]:
    """The champion's load; the prediction log and hot swap, with `monitoring`."""
    if importlib.util.find_spec(f"{PACKAGE}.monitoring") is None:
        return [partial(follow_champion, settings)]
    # Imported only where it exists: a level-3 project has no such subpackage.
    from ..monitoring import hot_swap, predictions, recording

    hooks: list[Hook] = []
    url = predictions.log_url(settings)
    if url is not None:
        hooks.append(partial(recording.log_predictions, predictions.PredictionLog(url)))
    # The hot swap makes the first load too: one loader, not two. Last in, so
    # first out at shut-down: no swap while the log closes.
    hooks.append(partial(hot_swap.keep_champion_current, settings))
    return hooks


def run(settings: Settings, host: str, port: int, access_log: bool = False) -> int:
    """Serve until stopped (Ctrl+C or SIGTERM), loading the champion meanwhile."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    os.environ.setdefault(PROGRESS_BAR_VARIABLE, "false")
    for variable, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(variable, value)
    try:
        hooks = project_hooks(settings)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    app = create_app(settings, None, hooks=hooks)
    # What is imported by now (MLflow, scikit-learn) stays for the process's
    # life: out of the garbage collector's sight, it costs no pause in the
    # middle of a request.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=access_log,
        log_level="info",
        server_header=False,
    )
    return 0
