"""Tier 2 for level 4 (Continuous): `demo` when its service fails.

The demo waits for the service it starts for as long as that service is alive
(up to --timeout), and a failure keeps its scratch folder, whose service log
the message names. The service is made to fail as on a misconfigured machine:
$SERVING_HOST names no address, so it exits before it is ready.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PACKAGE = "churn_model"


def test_a_service_that_exits_fails_the_demo_and_keeps_its_folder_and_log(installed, tmp_path):
    project = installed(4)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    environment = os.environ | {"SERVING_HOST": "host.invalid", "TMPDIR": str(scratch)}

    result = subprocess.run(
        [".venv/bin/python", "-m", PACKAGE, "demo", "--timeout", "600"],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "demo: failed: the service exited with code" in result.stderr
    log = Path(re.search(r"see its log, (\S+)", result.stderr)[1])
    kept = Path(re.search(r"its files are kept in (\S+)", result.stderr)[1])
    assert log.parent == kept and kept.parent == scratch
    # The service's own words on why it stopped: it could not bind the address.
    assert "ERROR" in log.read_text()
    assert (kept / "params.yaml").is_file()
