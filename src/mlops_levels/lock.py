"""The generated project's `uv.lock`, written before each commit the CLI makes.

The generated CI and Dockerfile install with `uv sync --locked`, which fails
without a committed lock, and an untracked lock that the user's first `uv sync`
writes leaves the tree dirty, so that `upgrade` refuses and every MLflow run is
tagged `git.dirty`. So `new` and each `upgrade` step lock before they commit.

It locks from uv's cache first (`--offline`): that takes half a second where
asking the index about every package takes five or more, and the versions are
ones this machine has already fetched. Only when the cache lacks a package does
it ask the index. Without uv, or with neither the cache nor the index able to
answer, the project is still created or upgraded: the caller says that the lock
is missing or stale, and gives the command that makes it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# What the user runs in the project to make the lock this step could not make.
FIX = 'uv lock && git add uv.lock && git commit -m "Lock the dependencies"'


def lock(project: Path) -> str | None:
    """Write or refresh `project/uv.lock`; None when done, else why it could not be."""
    uv = shutil.which("uv")
    if uv is None:
        return "uv is not on PATH (https://docs.astral.sh/uv/ installs it)"
    # The CLI may itself run in a uv-managed environment; the project has its own.
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    try:
        for offline in (["--offline"], []):
            result = subprocess.run(
                [uv, "lock", "--quiet", "--no-progress", *offline],
                cwd=project,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode == 0:
                return None
    except OSError as error:
        return f"uv could not start: {error.strerror or error}"
    # uv prints its error, then the chain of causes: the first and the last say most.
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    why = " ... ".join(dict.fromkeys([lines[0], lines[-1]])) if lines else "no message"
    return f"`uv lock` exited {result.returncode}: {why}"
