"""The `demo` command: the whole continuous-training loop, on this machine.

It works in a scratch folder of its own, with its own MLflow store, prediction
log and labels, so it never touches the team's registry:

1. train a first model and make it champion (the pipeline's stages);
2. serve it (`serve`, checking for a new champion every second);
3. send normal traffic: `monitor` finds no drift;
4. send drifted traffic and label it: every number 30% larger, as after an
   instrument's recalibration, yet within the range the training data spans,
   so the data contract cannot catch it, and every text column's rarest value
   everywhere: `monitor` finds the drift;
5. `retrain` on the reference plus the labelled rows; the gate promotes;
6. the service swaps the new champion in while traffic keeps flowing, and no
   request fails.

Each step prints a line or more. It raises DemoFailed, naming the step, when
the loop did not do all of that. The waits for the service (ready, swapped)
last up to `timeout` seconds each: a busy machine needs longer.
"""

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..config import Settings, load_settings, write_params
from ..data import load_dataset
from ..monitoring.predictions import URL_VARIABLE
from ..pipeline.stages import run_all
from ..tracking import TRACKING_URI_VARIABLE
from .traffic import (
    PACKAGE,
    SEED,
    DemoFailed,
    Traffic,
    batch_size,
    call,
    drifted,
    send,
    serving,
    wait_for_version,
    write_labels,
)

# Rows each phase sends: a share of the data, so that the drifted rows weigh
# enough in the retraining of a large data set, and at least ROWS_PER_PHASE.
ROWS_PER_PHASE = 300
PHASE_SHARE = 0.25


def say(step: str, message: str) -> None:
    print(f"demo: {step:<9} {message}", flush=True)


def scratch_settings(settings: Settings, folder: Path) -> Path:
    """A params.yaml in `folder` whose stores live there, and a one-second swap."""
    data = settings.data.model_copy(update={"path": str(settings.data_file)})
    predictions = settings.predictions.model_copy(
        update={"log": True, "url": "sqlite:///predictions.db", "labels": "labels.csv"}
    )
    hot_swap = settings.hot_swap.model_copy(update={"interval_seconds": 1})
    scratch = settings.model_copy(
        update={"data": data, "predictions": predictions, "hot_swap": hot_swap}
    )
    path = folder / "params.yaml"
    write_params(scratch, path)
    return path


def command(params_file: Path, *args: str) -> subprocess.CompletedProcess:
    """Run a command of the package on the scratch project, as a person would."""
    return subprocess.run(
        [sys.executable, "-m", PACKAGE, *args, "--params", str(params_file)],
        capture_output=True,
        text=True,
        check=False,
    )


def monitor(params_file: Path, since: datetime) -> tuple[int, dict]:
    """Run `monitor` over the traffic since `since`; its exit code and summary."""
    result = command(params_file, "monitor", "--since", since.isoformat())
    summary_file = params_file.parent / "reports" / "monitoring" / "summary.json"
    if result.returncode not in (0, 1):
        raise DemoFailed(f"monitor failed:\n{result.stdout}{result.stderr}")
    return result.returncode, json.loads(summary_file.read_text())


def verdict(summary: dict) -> str:
    drifted_columns = len(summary["drifted_columns"])
    return (
        f"{drifted_columns} of {summary['columns']} columns drifted over "
        f"{summary['rows']} rows -> {'drift' if summary['drifted'] else 'no drift'}"
    )


def run_loop(settings: Settings, folder: Path, timeout: float) -> None:
    """The loop, step by step, in `folder`; DemoFailed names the step that failed."""
    params_file = scratch_settings(settings, folder)
    # Without these, every store defaults to the scratch folder, here and in
    # the commands the demo runs.
    for variable in (TRACKING_URI_VARIABLE, URL_VARIABLE):
        os.environ.pop(variable, None)
    scratch = load_settings(params_file)
    say("train", "the pipeline's stages, on the project's data:")
    first = run_all(scratch, folder / "pipeline", lambda line: print(f"  {line}"))
    say("train", f"version {first.decision.challenger_version} is the champion")
    with serving(params_file, folder / "service.log", timeout) as url:
        say("serve", f"{url} answers with version {call(f'{url}/model')['version']}")
        send_and_monitor(scratch, params_file, url)
        retrain_during_traffic(scratch, params_file, url, timeout)


def phase_rows(reference: pd.DataFrame) -> int:
    return max(ROWS_PER_PHASE, round(len(reference) * PHASE_SHARE))


def send_and_monitor(settings: Settings, params_file: Path, url: str) -> None:
    """Normal traffic, which does not drift, then drifted and labelled traffic."""
    reference = load_dataset(settings.data_file, settings.data.target)
    rows = phase_rows(reference.frame)
    batch = batch_size(rows, settings.serving.max_batch_size)
    since = datetime.now(UTC)
    normal = reference.features.sample(
        rows, replace=rows > len(reference.frame), random_state=SEED
    )
    send(url, normal, batch)
    code, summary = monitor(params_file, since)
    say("monitor", f"normal traffic: {verdict(summary)} (exit {code})")
    if code != 0:
        raise DemoFailed("monitor found drift in normal traffic")

    since = datetime.now(UTC)
    features, labels = drifted(reference, rows)
    write_labels(send(url, features, batch), labels, settings.root / "labels.csv")
    code, summary = monitor(params_file, since)
    say("monitor", f"drifted traffic, labelled: {verdict(summary)} (exit {code})")
    if code != 1:
        raise DemoFailed("monitor did not find the drift")


def retrain_during_traffic(
    settings: Settings, params_file: Path, url: str, timeout: float
) -> None:
    """`retrain` while requests keep coming; the new champion swaps in unseen."""
    held_out = pd.read_csv(settings.root / "pipeline" / "test.csv")
    traffic = Traffic(url, held_out.drop(columns=settings.data.target))
    traffic.start()
    try:
        result = command(params_file, "retrain")
        decision = json.loads(
            (settings.root / "reports" / "retraining" / "decision.json").read_text()
        )
        say("retrain", f"{decision['decision']}: {decision['reason']}")
        if result.returncode != 0 or decision["decision"] != "promoted":
            raise DemoFailed(
                f"retrain did not promote:\n{result.stdout}{result.stderr}"
            )
        wait_for_version(url, decision["champion_version"], timeout)
        time.sleep(0.5)  # a few more requests on the new version
    finally:
        traffic.stop()
    served = ", ".join(f"v{v}: {n}" for v, n in sorted(traffic.versions.items()))
    say(
        "swap",
        f"version {decision['champion_version']} answers, with no restart; "
        f"requests meanwhile: {served}; failed: {len(traffic.failures)}",
    )
    if traffic.failures:
        raise DemoFailed(f"requests failed during the swap: {traffic.failures[:3]}")
