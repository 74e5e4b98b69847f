"""Helpers for tests: the level matrix from levels/, and running things in projects."""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import pty
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import termios
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from tempfile import mkdtemp

import jinja2
import yaml

from mlops_levels.git import commit, init
from mlops_levels.git import git as git  # the tests run git as the CLI does
from mlops_levels.ladder import load_ladder
from mlops_levels.template_source import PAYLOAD

REPO = Path(__file__).resolve().parents[1]
LADDER = load_ladder()
LEVELS = [level["level"] for level in LADDER]  # the level numbers, 0 first, for parametrize
TESTER = ("Test", "test@example.org")  # who commits what the tests change


def copy_payload(dest: Path) -> Path:
    """Copy the template's own files from this checkout into `dest`, and return it."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PAYLOAD:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dest / name)
    return dest


@cache
def template_snapshot() -> Path:
    """The template as it was when the session started, as a plain folder.

    Tests render this rather than the checkout: Copier would clone the checkout
    with its uncommitted changes, and fails on a project that a user generated
    inside it (a nested repository: "No url found for submodule path"). The
    snapshot holds the template's files only, and cannot change mid-session.
    """
    snapshot = Path(mkdtemp(prefix="mlops-levels-template-"))
    atexit.register(shutil.rmtree, snapshot, ignore_errors=True)
    return copy_payload(snapshot)


def commit_all(project: Path, message: str = "Start") -> None:
    """Make a rendered project a git repository with one commit, as `new` does."""
    init(project)
    commit(project, message, identity=TESTER)


def run(project: Path, *command: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a command in a generated project and fail with its output if it fails."""
    result = subprocess.run(
        command, cwd=project, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, (
        f"{' '.join(command)} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result


def copier_update(project: Path, level: int, *data: str) -> subprocess.CompletedProcess:
    """Plain `copier update` to `level` at the recorded template version, as the docs give it."""
    return subprocess.run(
        [sys.executable, "-m", "copier", "update", "--defaults", "--vcs-ref", ":current:"]
        + [arg for pair in (f"level={level}", *data) for arg in ("--data", pair)],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(url: str, body: object | None = None) -> tuple[int, dict]:
    """GET `url`, or POST `body` as JSON to it; the status and the JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def start_service(
    project: Path,
    argv: list[str],
    port: int,
    log: Path,
    env: dict[str, str] | None = None,
    *,
    cwd: Path | None = None,
    unset: tuple[str, ...] = (),
    until: str = "/ready",
) -> subprocess.Popen:
    """Run `python argv` in the project's environment (from `cwd`, the project by
    default, without the variables in `unset`), its output to `log`, and return
    once `until` answers 200 on `port`; fail with the log if it never does."""
    removed = {"VIRTUAL_ENV", *unset}
    environment = {key: value for key, value in os.environ.items() if key not in removed}
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(project / ".venv" / "bin" / "python"), *argv],
            cwd=cwd or project,
            env=environment | (env or {}),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if request(f"http://127.0.0.1:{port}{until}")[0] == 200:
                return process
        except OSError:
            pass
        time.sleep(0.3)
    process.kill()
    raise AssertionError(f"the service never got ready:\n{log.read_text()}")


@dataclass(frozen=True)
class Terminal:
    """What a command printed at a pseudo-terminal, and how it exited."""

    code: int
    raw: str  # as the terminal received it, colours and cursor moves included

    @property
    def text(self) -> str:
        """The output without its escape sequences."""
        return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", self.raw)


def run_at_a_terminal(
    *argv: str,
    keys: Sequence[tuple[str, bytes]] = (),
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> Terminal:
    """Run `mlops-levels argv` with stdin, stdout and stderr on a pseudo-terminal, typing
    each key once its prompt shows after the previous key; fail if a prompt never shows.
    Keys typed before a prompt is drawn would be flushed, hence the waiting."""
    controller, terminal = pty.openpty()
    # Wide enough that no prompt wraps around the text it is waited for.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 400, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "mlops_levels", *argv],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
    )
    os.close(terminal)
    output, pending, seen = b"", list(keys), 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([controller], [], [], 0.2)[0]:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the command has finished
                break
            if not chunk:
                break
            output += chunk
        if pending and pending[0][0].encode() in output[seen:]:
            seen = len(output)
            os.write(controller, pending.pop(0)[1])
    else:
        process.kill()
    os.close(controller)
    result = Terminal(process.wait(), output.decode(errors="replace"))
    assert not pending, f"never asked: {pending}\n{result.text}"
    return result


def first_level(question: str) -> int:
    """The lowest level at which a copier.yml question holds: a computed flag's default,
    or the `when` of a question Copier asks.

    Rendered with Jinja at each level, the flags before it first, in copier.yml's
    order as Copier renders them: the threshold stays written once, in copier.yml.
    """
    config = yaml.safe_load((REPO / "copier.yml").read_text(encoding="utf-8"))
    jinja = jinja2.Environment()

    def holds(expression: str, context: dict[str, object]) -> bool:
        return jinja.from_string(expression).render(context) == "True"

    for level in LEVELS:
        context: dict[str, object] = {"level": level}
        for name, spec in config.items():
            if name == question:
                if holds(spec["default"] if spec.get("when") is False else spec["when"], context):
                    return level
                break
            if isinstance(spec, dict) and spec.get("when") is False and spec.get("type") == "bool":
                context[name] = holds(spec["default"], context)
    raise LookupError(f"copier.yml: {question} holds at no level")
