"""The demo's traffic: a local service to send it to, normal and drifted rows,
labels that arrive later, and steady requests during the swap."""

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import Dataset

# The package's command line, which runs the service.
PACKAGE = __package__.rpartition(".")[0]
# What the drifted traffic looks like: numbers scaled by DRIFT, give or take NOISE.
DRIFT = 1.3
NOISE = 0.03
BATCH = 10
# About how many requests a phase of the demo's traffic takes, whatever its rows.
REQUESTS_PER_PHASE = 30
SEED = 7


class DemoFailed(Exception):
    """A step of the loop did not do what it should."""


def call(url: str, body: object | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(params_file: Path, log: Path, timeout: float) -> Iterator[str]:
    """Run `serve` on a free port until the block ends; yield its URL once ready.

    The service says when it is ready (/ready answers 200): on a busy machine
    that takes longer, so the wait lasts as long as the service is alive, up
    to `timeout` seconds. DemoFailed names the service's log otherwise.
    """
    port = free_port()
    command = [sys.executable, "-m", PACKAGE, "serve", "--params", str(params_file)]
    with log.open("w") as output:
        server = subprocess.Popen(
            [*command, "--port", str(port)], stdout=output, stderr=output
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(server, url, log, timeout)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def wait_until_ready(
    server: subprocess.Popen, url: str, log: Path, timeout: float
) -> None:
    """Poll /ready until it answers 200, while the service runs, for `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            call(f"{url}/ready")
            return
        except (urllib.error.URLError, ConnectionError) as error:
            if server.poll() is not None:
                raise DemoFailed(
                    f"the service exited with code {server.returncode} before it "
                    f"was ready: see its log, {log}"
                ) from error
            if time.monotonic() > deadline:
                raise DemoFailed(
                    f"the service was not ready after {timeout:g} s (--timeout): "
                    f"see its log, {log}"
                ) from error
            time.sleep(0.2)


def records(rows: pd.DataFrame) -> list[dict]:
    """The rows as JSON objects, a missing value as null (JSON has no NaN)."""
    return rows.astype(object).where(rows.notna(), None).to_dict(orient="records")


def batch_size(rows: int, max_batch_size: int) -> int:
    """Rows per request: BATCH, or more for many rows, so that a phase takes
    about REQUESTS_PER_PHASE requests, within the service's limit."""
    return min(max(BATCH, rows // REQUESTS_PER_PHASE), max_batch_size)


def send(url: str, rows: pd.DataFrame, batch: int = BATCH) -> list[dict]:
    """Send the rows in batches of `batch`; return each batch's answer."""
    body = records(rows)
    return [
        call(f"{url}/predict", {"rows": body[start : start + batch]})
        for start in range(0, len(body), batch)
    ]


def drifted(reference: Dataset, rows: int) -> tuple[pd.DataFrame, pd.Series]:
    """Drifted rows, and their labels, which the drift does not change.

    Rows of the reference with every number scaled by DRIFT, give or take
    NOISE, and kept within the reference's range; every text value replaced by
    its column's rarest one. Missing values stay missing.
    """
    sample = reference.frame.sample(rows, replace=True, random_state=SEED)
    features = sample.drop(columns=reference.target).reset_index(drop=True)
    numbers = features.select_dtypes("number").columns
    rng = np.random.default_rng(SEED)
    factor = rng.normal(DRIFT, DRIFT * NOISE, size=(rows, len(numbers)))
    low, high = reference.features[numbers].min(), reference.features[numbers].max()
    features[numbers] = (features[numbers] * factor).clip(low, high, axis="columns")
    for column in features.columns.difference(numbers):
        features[column] = rarest_category(features[column])
    return features, sample[reference.target]


def rarest_category(values: pd.Series) -> pd.Series:
    """Each value replaced by the column's rarest one: the same categories, in
    proportions the training data never had."""
    rarest = values.value_counts(ascending=True).index[0]
    return values.where(values.isna(), rarest)


def write_labels(answers: list[dict], labels: pd.Series, path: Path) -> None:
    """The true labels of the sent rows, joined to them by request id and row."""
    keys = [
        (answer["request_id"], row)
        for answer in answers
        for row in range(len(answer["predictions"]))
    ]
    frame = pd.DataFrame(keys, columns=["request_id", "row"])
    frame["label"] = labels.to_numpy()
    frame.to_csv(path, index=False)


class Traffic(threading.Thread):
    """Steady /predict requests in the background: the versions seen, the failures."""

    def __init__(self, url: str, rows: pd.DataFrame) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.rows = records(rows)
        self.versions: Counter[str] = Counter()
        self.failures: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        position = 0
        while not self.stopping.is_set():
            batch = self.rows[position : position + BATCH] or self.rows[:BATCH]
            position = (position + BATCH) % len(self.rows)
            try:
                self.versions[
                    call(f"{self.url}/predict", {"rows": batch})["model_version"]
                ] += 1
            except (urllib.error.URLError, ConnectionError, ValueError) as error:
                self.failures.append(str(error))

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def wait_for_version(url: str, version: str, timeout: float) -> None:
    """Wait until /model reports `version`, for `timeout` seconds at most."""
    deadline = time.monotonic() + timeout
    while call(f"{url}/model")["version"] != version:
        if time.monotonic() > deadline:
            raise DemoFailed(
                f"the service did not swap in version {version} within "
                f"{timeout:g} s (--timeout)"
            )
        time.sleep(0.1)
