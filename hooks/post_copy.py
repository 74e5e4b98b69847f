"""After a copy: make the project a git repository with one commit.

`copier update` needs a clean git repository, so a project is ready to be
upgraded only once this has run. The CLI calls `main`; after a plain
`copier copy`, `git init && git add -A && git commit -m "Start"` does the same.
"""

from __future__ import annotations

import subprocess
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


def main(project: Path, message: str) -> None:
    if not (project / ".git").exists():
        _git(project, "init", "--quiet", "--initial-branch=main")
    _git(project, "add", "--all")
    _git(project, *_identity(project), "commit", "--quiet", "--no-verify", "-m", message)
