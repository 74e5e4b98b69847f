"""After a copy: make the project a git repository with one commit.

`copier update` needs a clean git repository, so a project is ready to be
upgraded only once this has run. The CLI calls `main`; after a plain
`copier copy`, `git init && git add -A && git commit -m "Start"` does the same.
`mlops-levels upgrade` calls `commit` after each step, as `git add -A && git
commit -m "Upgrade to level N (Name)"` would after a plain `copier update`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import yaml


def _git(project: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(project), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _identity(project: Path) -> list[str]:
    """Commit as the user's git identity, or as the project's author if there is none."""
    configured = subprocess.run(
        ["git", "-C", str(project), "config", "user.email"], capture_output=True, check=False
    )
    if configured.returncode == 0:
        return []
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    return [
        "-c",
        f"user.name={answers['author_name']}",
        "-c",
        f"user.email={answers['author_email']}",
    ]


def commit(project: Path, message: str, keep_out: Sequence[str] = ()) -> None:
    """Commit everything in the project's folder, as the template wrote it, but `keep_out`.

    `--no-verify`: pre-commit hooks (level 2 adds them) must not reformat or refuse
    what the template wrote; the commit records exactly that.
    """
    _git(project, "add", "--all", "--", ".")
    if keep_out:
        # Back to what HEAD has for them: nothing, in a new repository.
        _git(project, "reset", "--quiet", "--", *keep_out)
    _git(project, *_identity(project), "commit", "--quiet", "--no-verify", "-m", message)


def main(project: Path, message: str, keep_out: Sequence[str] = ()) -> None:
    """Make `project` a git repository if it is none, and commit it but `keep_out`:
    the files that were in the folder before the copy, which are the user's."""
    if not (project / ".git").exists():
        _git(project, "init", "--quiet", "--initial-branch=main")
    commit(project, message, keep_out)
