"""Hostile files in a project: `upgrade`, `diff --project`, `assess` and `new` meet each
with a one-line message on stderr, no traceback and a documented exit code, and change
nothing: no file's bytes or modification time, and not git's state.

tests/test_upgrade.py (its refusals), tests/test_diff.py and tests/test_cli.py cover
the cases not repeated here: for `upgrade`, answers that are not YAML or not a mapping,
level 5, and a template folder or version that is gone; for `diff --project`, a missing
folder, no answers file, and a template that is gone; for `new`, a destination that is
a file or not empty. The CLI runs as a separate process, as a person runs it, so that
a traceback would show on its stderr.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_levels.errors import FAILED, OK, REFUSED, USAGE
from tests.helpers import git

ANSWERS = ".copier-answers.yml"
LEVEL = 1  # the project's level: low enough that an upgrade has somewhere to go


def cli(*args: str, prefix: list[str] | None = None, **env: str) -> subprocess.CompletedProcess:
    """`mlops-levels ARGS` in a process of its own, as a person runs it."""
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "mlops_levels", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
        check=False,
    )


@contextmanager
def read_only(folder: Path) -> Iterator[list[str]]:
    """A command prefix under which `folder` and all in it are read-only, for that
    command alone. Root writes through permission bits, so for root the folder is
    mounted read-only in a mount namespace of the command's own."""
    if os.geteuid() != 0:
        paths = [folder, *folder.rglob("*")]
        modes = {path: path.stat().st_mode for path in paths if not path.is_symlink()}
        for path, mode in modes.items():
            path.chmod(mode & ~0o222)
        try:
            yield []
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
        return
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, check=False)
    if probe.returncode:
        pytest.skip(f"root needs `unshare --mount` to make a folder read-only: {probe.stderr!r}")
    yield [
        "unshare",
        "--mount",
        "sh",
        "-c",
        'mount --bind -o ro "$0" "$0" && exec "$@"',
        str(folder),
    ]


def snapshot(folder: Path) -> dict[str, Any]:
    """What a command could change: every file's bytes and mtime, and git's state."""
    files = {
        str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink() and ".git" not in path.relative_to(folder).parts
    }
    folders = sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_dir())
    if not (folder / ".git").is_dir():
        return {"files": files, "folders": folders}
    return {
        "files": files,
        "folders": folders,
        "head": git(folder, "rev-parse", "HEAD"),
        "index": git(folder, "ls-files", "--stage"),
        "status": git(folder, "status", "--porcelain", "--ignored", "--untracked-files=all"),
        "refs": git(folder, "for-each-ref"),
    }


def message(result: subprocess.CompletedProcess) -> list[str]:
    """What the CLI said on stderr, less its `==>` progress lines."""
    return [line for line in result.stderr.splitlines() if not line.startswith("==> ")]


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """A committed level-1 project, made once by `new`; tests work on copies."""
    project = tmp_path_factory.mktemp("made") / "churn-model"
    result = cli("new", str(project), "--level", str(LEVEL), "--defaults")
    assert result.returncode == 0, result.stderr
    return project


@pytest.fixture
def project(made, tmp_path) -> Path:
    copy = tmp_path / "churn-model"
    shutil.copytree(made, copy, symlinks=True)
    return copy


def commit(project: Path) -> None:
    git(project, "add", "--all")
    git(project, "-c", "user.name=Us", "-c", "user.email=us@example.org", "commit", "-qm", "Edit")


def write_answers(content: str | bytes) -> Callable[[Path], None]:
    def edit(project: Path) -> None:
        path = project / ANSWERS
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        commit(project)

    return edit


def record(key: str, value: Any) -> Callable[[Path], None]:
    """A hand edit of one answer, committed."""

    def edit(project: Path) -> None:
        path = project / ANSWERS
        path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), key: value}))
        commit(project)

    return edit


def gone_template(project: Path) -> None:
    record("_src_path", str(project.parent / "template-that-was-deleted"))(project)


NOT_YAML = write_answers("level:\t1\n_src_path: here\n")
BINARY = write_answers(b"\xff\xfe\x00 not text \x80")
EMPTY = write_answers("")
LIST = write_answers("- level\n- 1\n")
# A YAML tag that would run code under an unsafe loader: read as data or refused, never run.
PYTHON_TAG = write_answers("!!python/object/apply:os.system ['touch pwned']\n")


@dataclass(frozen=True)
class Case:
    """A hostile file, the command that meets it, and what the command must say."""

    args: list[str]  # PATH stands for the project's folder
    breaks: Callable[[Path], None] | None
    code: int
    says: str  # in the first line of stderr; empty: no message at all
    read_only: bool = False
    env: dict[str, str] = field(default_factory=dict)


def path_is_a_file(project: Path) -> None:
    shutil.rmtree(project)
    project.write_text("not a folder\n")


CASES = {
    # upgrade
    "upgrade-path-is-a-file": Case(
        ["upgrade", "PATH", "--yes"], path_is_a_file, USAGE, "is not a folder"
    ),
    "upgrade-answers-with-a-tab": Case(
        ["upgrade", "PATH", "--yes"],
        NOT_YAML,
        REFUSED,
        "is corrupt: it is not valid YAML: found character",
    ),
    "upgrade-answers-binary": Case(
        ["upgrade", "PATH", "--yes"], BINARY, REFUSED, "is corrupt: it is not UTF-8 text"
    ),
    "upgrade-answers-empty": Case(
        ["upgrade", "PATH", "--yes"], EMPTY, REFUSED, "is corrupt: it is empty"
    ),
    "upgrade-answers-python-tag": Case(
        ["upgrade", "PATH", "--yes"], PYTHON_TAG, REFUSED, "could not determine a constructor"
    ),
    "upgrade-answers-level-not-a-number": Case(
        ["upgrade", "PATH", "--yes"],
        record("level", "two"),
        REFUSED,
        "records level 'two', and the levels are 0 to",
    ),
    "upgrade-answers-level-negative": Case(
        ["upgrade", "PATH", "--yes"], record("level", -1), REFUSED, "records level -1"
    ),
    "upgrade-hand-edited-answer-copier-refuses": Case(
        ["upgrade", "PATH", "--yes"],
        record("author_email", "nobody"),
        USAGE,
        '"nobody" is not an email address',
    ),
    "upgrade-read-only": Case(
        ["upgrade", "PATH", "--yes"], None, REFUSED, "is read-only", read_only=True
    ),
    # diff --project
    "diff-path-is-a-file": Case(
        ["diff", "1", "2", "--project", "PATH"], path_is_a_file, USAGE, "not a folder"
    ),
    "diff-answers-with-a-tab": Case(
        ["diff", "1", "2", "--project", "PATH"],
        NOT_YAML,
        REFUSED,
        "is corrupt: it is not valid YAML",
    ),
    "diff-answers-binary": Case(
        ["diff", "1", "2", "--project", "PATH"], BINARY, REFUSED, "it is not UTF-8 text"
    ),
    "diff-answers-a-list": Case(
        ["diff", "1", "2", "--project", "PATH"], LIST, REFUSED, "not a mapping of answers"
    ),
    "diff-answers-python-tag": Case(
        ["diff", "1", "2", "--project", "PATH"],
        PYTHON_TAG,
        REFUSED,
        "could not determine a constructor",
    ),
    # diff compares the levels it is given: the recorded one plays no part.
    "diff-answers-unknown-level": Case(
        ["diff", "1", "2", "--project", "PATH", "--name-only"], record("level", 7), OK, ""
    ),
    "diff-read-only": Case(
        ["diff", "1", "2", "--project", "PATH", "--name-only"], None, OK, "", read_only=True
    ),
    # assess: any repository is assessed from its files; a bad answers file is named.
    "assess-path-is-a-file": Case(
        ["assess", "PATH", "--no-input"], path_is_a_file, USAGE, "is not a folder"
    ),
    "assess-answers-with-a-tab": Case(
        ["assess", "PATH", "--no-input"],
        NOT_YAML,
        OK,
        "warning: PATH/.copier-answers.yml is corrupt: it is not valid YAML",
    ),
    "assess-answers-binary": Case(
        ["assess", "PATH", "--no-input"], BINARY, OK, "is corrupt: it is not UTF-8 text"
    ),
    "assess-answers-unknown-level": Case(
        ["assess", "PATH", "--no-input"], record("level", 7), OK, "is corrupt: it records level 7"
    ),
    "assess-template-gone": Case(["assess", "PATH", "--no-input"], gone_template, OK, ""),
    "assess-read-only": Case(["assess", "PATH", "--no-input"], None, OK, "", read_only=True),
}


@pytest.mark.parametrize("case", CASES)
def test_hostile_project_gets_one_clear_line_and_nothing_changes(project, case):
    hostile = CASES[case]
    if hostile.breaks:
        hostile.breaks(project)
    args = [arg.replace("PATH", str(project)) for arg in hostile.args]
    before = snapshot(project) if project.is_dir() else project.read_bytes()

    with read_only(project) if hostile.read_only else nullcontext([]) as prefix:
        result = cli(*args, prefix=prefix, **hostile.env)

    said = message(result)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == hostile.code, result.stderr
    if hostile.says:
        assert said[0].startswith("mlops-levels: "), said
        assert hostile.says.replace("PATH", str(project)) in said[0], said
    else:
        assert said == [], said
    assert (snapshot(project) if project.is_dir() else project.read_bytes()) == before
    assert not (project / "pwned").exists()


# --- new -------------------------------------------------------------------------------


def test_new_under_a_file_is_bad_usage_and_creates_nothing(tmp_path):
    afile = tmp_path / "notes.txt"
    afile.write_text("mine\n")

    result = cli("new", str(afile / "churn"), "--defaults")

    assert "Traceback" not in result.stderr
    assert result.returncode == USAGE
    assert message(result) == [
        f"mlops-levels: {afile} is a file; give a folder to create the project in."
    ]
    assert afile.read_text() == "mine\n"


@pytest.mark.parametrize("where", ["parent", "destination"])
def test_new_in_a_read_only_folder_is_refused_and_writes_nothing(tmp_path, where):
    folder = tmp_path / "shared"
    folder.mkdir()
    dest = folder / "churn" if where == "parent" else folder
    before = snapshot(tmp_path)

    with read_only(folder) as prefix:
        result = cli("new", str(dest), "--defaults", prefix=prefix)

    said = message(result)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == REFUSED
    assert len(said) == 1 and f"{folder} is read-only" in said[0], said
    assert snapshot(tmp_path) == before


def test_new_with_a_read_only_template_cache_fails_and_writes_nothing(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    dest = tmp_path / "churn"

    with read_only(home) as prefix:
        result = cli("new", str(dest), "--defaults", prefix=prefix, MLOPS_LEVELS_HOME=str(home))

    said = message(result)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == FAILED
    assert len(said) == 1 and f"Cannot write the template cache {home}/template" in said[0], said
    assert "MLOPS_LEVELS_HOME" in said[0]
    assert list(home.iterdir()) == [] and not dest.exists()
