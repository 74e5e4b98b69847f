"""A generated README tells its reader what to type: every command in it must work.

Tier 2 (slow): for each level, a fresh project runs its README's console blocks,
in README order, each command as written in `bash -e` from the project root.
The few that cannot run here are marked in MARKED, with the reason; every other
command runs, so a command added to the README is tested from then on.

Tier 1: the "Project layout" table lists every file the level generates, and
only files it generates.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import LEVELS, commit_all, git

PACKAGE = "churn_model"  # what the project name "Churn Model" yields
SLUG = "churn-model"


@dataclass(frozen=True)
class Skip:
    """Not run: it needs a person, a remote, or a tool this machine has not."""

    reason: str


@dataclass(frozen=True)
class Server:
    """Started in the background, as in a second terminal, and waited on until
    `ready` answers 200; it stays up for the commands after it, until one that
    listens on the same port replaces it, as Ctrl+C and a new command would."""

    ready: str

    @property
    def port(self) -> int:
        return urllib.parse.urlsplit(self.ready).port


@dataclass(frozen=True)
class Exits:
    """Run, and expected to exit with `code`, which the README documents."""

    code: int
    reason: str


OWN_DATA = Skip("your-data.csv stands for the reader's own data")
TEAM_MLFLOW = Skip("needs the team's MLflow server")
NO_DOCKER = Skip("needs a Docker engine")
# tests/test_team_stack.py runs these servers natively and the commands against them.
TEAM_STACK = Skip("needs the team stack, which `docker compose up` starts")
NO_CLUSTER = Skip("needs a Kubernetes cluster; tests/test_k8s.py renders and validates deploy/k8s")
TOO_LITTLE_TRAFFIC = Exits(
    2, "a fresh project has logged fewer than monitoring.min_rows predictions"
)

# The one list of README commands that do not simply run and exit 0, keyed by
# their exact text in the README.
MARKED: dict[str, Skip | Server | Exits] = {
    f"uv run {PACKAGE} train --params other.yaml    # another config file": Skip(
        "other.yaml stands for a config file of the reader's own"
    ),
    "uv run mlflow ui --backend-store-uri sqlite:///mlflow.db": Server(
        "http://127.0.0.1:5000/health"
    ),
    "export MLFLOW_TRACKING_URI=https://mlflow.example.org": TEAM_MLFLOW,
    "uv run dvc add data/raw/your-data.csv": OWN_DATA,
    "git add data/raw/your-data.csv.dvc": OWN_DATA,
    f"uv run {PACKAGE} contract data/raw/your-data.csv": OWN_DATA,
    "uv run dvc remote modify local url s3://your-bucket/your-project": Skip(
        "needs the team's bucket, and the commands after it use the local remote"
    ),
    f"uv run {PACKAGE} serve    # leave it running, and in a second terminal:": Server(
        "http://127.0.0.1:8000/ready"
    ),
    f"uv run {PACKAGE} serve                      # http://127.0.0.1:8000, docs at /docs": (
        Server("http://127.0.0.1:8000/ready")
    ),
    f"uv run {PACKAGE} serve --host 0.0.0.0 --port 9000": Server("http://127.0.0.1:9000/ready"),
    f"MLFLOW_TRACKING_URI=https://mlflow.example.org uv run {PACKAGE} serve": TEAM_MLFLOW,
    f"docker build -t {SLUG} .": NO_DOCKER,
    f"docker run -p 8000:8000 -e MLFLOW_TRACKING_URI=https://mlflow.example.org {SLUG}": (
        NO_DOCKER
    ),
    "docker compose up -d --wait": NO_DOCKER,
    "export MLFLOW_TRACKING_URI=http://127.0.0.1:5000": TEAM_STACK,
    "export AWS_ACCESS_KEY_ID=team-stack AWS_SECRET_ACCESS_KEY=team-stack-secret": TEAM_STACK,
    'git commit -m "Keep the data on S3" .dvc/config': Skip(
        "commits the S3 remote that the skipped `dvc remote modify` above sets"
    ),
    "PREDICTION_LOG_URL=postgresql+psycopg://user:password@db.example.org/ml"
    f" uv run {PACKAGE} serve": Skip("needs the team's database server"),
    f"uv run {PACKAGE} monitor                                # the last monitoring.window_days": (
        TOO_LITTLE_TRAFFIC
    ),
    f"uv run {PACKAGE} monitor --since 2025-06-01T00:00:00Z": TOO_LITTLE_TRAFFIC,
    f"kubectl create namespace {SLUG}-staging": NO_CLUSTER,
    f"kubectl create secret generic {SLUG}-stores --namespace {SLUG}-staging"
    " --from-env-file=.env.stores": NO_CLUSTER,
    "bash deploy/k8s/release.sh staging ghcr.io/OWNER/REPOSITORY@sha256:DIGEST": NO_CLUSTER,
    f"kubectl create job --from=cronjob/{SLUG}-retrain retrain-now --namespace {SLUG}-production": (
        NO_CLUSTER
    ),
    f'uv run {PACKAGE} rollback --reason "INC-142: precision fell after v7"': Exits(
        1, "a fresh project's first champion replaced none: there is nothing to roll back to"
    ),
}

FENCE = re.compile(r"^```console\n(.*?)^```$", re.MULTILINE | re.DOTALL)
READY_SECONDS = 120
# What a person's shell has and a test's may not: a git identity, for the
# README's `git commit`.
IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.org",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.org",
}
# What it has not: this session's virtual environment, and this machine's
# PYTHONDONTWRITEBYTECODE, which would make every command compile MLflow anew.
LEFT_OUT = {"VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"}


def readme_blocks(readme: str) -> list[list[str]]:
    """The commands of each console block, in order; a line ending in a backslash
    continues on the next, as in a shell."""
    return [
        [command for command in re.split(r"(?<!\\)\n", block) if command.strip()]
        for block in FENCE.findall(readme)
    ]


def layout_rows(readme: str) -> list[list[str]]:
    """The paths in the first column of each row of the Project layout table."""
    section = readme.split("\n## Project layout\n", 1)[1]
    table = re.search(r"^\|.*?(?=\n(?!\|))", section, re.MULTILINE | re.DOTALL).group()
    rows = table.splitlines()[2:]
    return [re.findall(r"`([^`]+)`", row.split("|")[1]) for row in rows]


def covers(path: str, file: str) -> bool:
    if path.endswith("/"):
        return file.startswith(path)
    return fnmatch.fnmatchcase(file, path)


def tracked_files(render: Path, destination: Path) -> list[str]:
    """The files git tracks in a committed copy of the render, as `new` commits it."""
    shutil.copytree(render, destination)
    commit_all(destination)
    return git(destination, "ls-files").splitlines()


# Each level with the default answers, and the answers that change its files.
LAYOUT_VARIANTS = [(level, {}) for level in LEVELS] + [
    (2, {"ci_provider": "gitlab"}),
    (3, {"ci_provider": "none"}),
    (4, {"ci_provider": "gitlab"}),
    (4, {"orchestrator": "kubeflow"}),
    (0, {"license": "Proprietary"}),
]


@pytest.mark.parametrize(
    ("level", "answers"),
    LAYOUT_VARIANTS,
    ids=["-".join([str(level), *answers.values()]) for level, answers in LAYOUT_VARIANTS],
)
def test_layout_table_lists_every_generated_file_and_only_those(render, tmp_path, level, answers):
    """A reader looks up a file in the table: each must be there, and no row may
    describe a file that this level does not have."""
    project = render(level, **answers)
    files = tracked_files(project, tmp_path / SLUG)
    rows = layout_rows((project / "README.md").read_text(encoding="utf-8"))
    paths = [path for row in rows for path in row]
    which = f"level {level}" + "".join(f", {key}={value}" for key, value in answers.items())

    missing = [file for file in files if not any(covers(path, file) for path in paths)]
    absent = [path for path in paths if not any(covers(path, file) for file in files)]

    assert not missing, (
        f"{which}: the Project layout table of template/README.md.jinja has no row for {missing}"
    )
    assert not absent, (
        f"{which}: the Project layout table of template/README.md.jinja names "
        f"{absent}, which this level does not generate"
    )


def test_every_marked_command_is_in_a_readme(render):
    """A mark for a command that the README no longer has hides nothing, but
    misleads: the list says which commands are not run, and why."""
    commands = {
        command
        for level in LEVELS
        for block in readme_blocks((render(level) / "README.md").read_text())
        for command in block
    }

    assert sorted(set(MARKED) - commands) == []


def test_a_continued_line_is_one_command():
    readme = "```console\nuv sync\ncurl -s url \\\n  -d @-\n```\n"

    assert readme_blocks(readme) == [["uv sync", "curl -s url \\\n  -d @-"]]


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def answers_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:  # refused, reset, or an HTTP error status
        return False


class Servers:
    """The README's long-running commands, each in its own process group."""

    def __init__(self, project: Path, environment: dict[str, str], logs: Path) -> None:
        self.project = project
        self.environment = environment
        self.logs = logs
        self.running: dict[int, subprocess.Popen] = {}

    def start(self, command: str, server: Server) -> None:
        self.stop(server.port)
        assert port_is_free(server.port), (
            f"port {server.port} is taken by another process; the README's "
            f"`{command}` listens there: stop that process and run the test again"
        )
        log = self.logs / f"server-{server.port}.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                ["bash", "-e", "-c", command],
                cwd=self.project,
                env=self.environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running[server.port] = process
        deadline = time.monotonic() + READY_SECONDS
        while not answers_ok(server.ready):
            assert process.poll() is None, f"`{command}` stopped:\n{log.read_text()}"
            assert time.monotonic() < deadline, (
                f"`{command}`: {server.ready} did not answer 200 within "
                f"{READY_SECONDS} s:\n{log.read_text()}"
            )
            time.sleep(0.5)

    def stop(self, port: int) -> None:
        process = self.running.pop(port, None)
        if process is None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop_all(self) -> None:
        for port in list(self.running):
            self.stop(port)


def run_command(
    command: str, mark: Exits | None, project: Path, environment: dict[str, str], where: str
) -> None:
    result = subprocess.run(
        ["bash", "-e", "-c", command],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    expected = mark.code if mark else 0
    assert result.returncode == expected, (
        f"{where}: `{command}` exited {result.returncode}, not {expected}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n"
        "Fix the README or the code; if the command cannot run here, mark it in "
        "MARKED (tests/test_readme_commands.py) with the reason."
    )


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
def test_every_readme_command_runs_as_written(render, tmp_path, level):
    """On a fresh project, as `new` makes it, a reader types the README's commands
    top to bottom; each must do what the README says, or be marked with why not.

    A command the README repeats word for word runs once, the first time: running
    it again only costs time. A skipped `export` skips the rest of its block,
    which would run in the environment it sets.
    """
    project = tmp_path / SLUG
    shutil.copytree(render(level), project)
    commit_all(project)
    environment = {
        key: value for key, value in os.environ.items() if key not in LEFT_OUT
    } | IDENTITY
    servers = Servers(project, environment, tmp_path)
    done: set[str] = set()
    timings = []
    try:
        blocks = readme_blocks((project / "README.md").read_text(encoding="utf-8"))
        for number, block in enumerate(blocks, 1):
            for command in block:
                mark = MARKED.get(command)
                if isinstance(mark, Skip) and command.startswith("export "):
                    break
                if isinstance(mark, Skip) or command in done:
                    continue
                done.add(command)
                start = time.monotonic()
                if isinstance(mark, Server):
                    servers.start(command, mark)
                else:
                    where = f"level {level}, README console block {number}"
                    run_command(command, mark, project, environment, where)
                timings.append(f"{time.monotonic() - start:6.1f} s  {command}")
    finally:
        servers.stop_all()
        print(f"level {level}:", *timings, sep="\n  ")
