"""Every git command the CLI runs: in a generated project, and in the template cache.

`copier update` needs a clean git repository, so a project is ready to be
upgraded only once it is one with a commit. `new` makes it so; after a plain
`copier copy`, `git init && git add -A && git commit -m "Start"` does the same.
`upgrade` commits each step, as `git add -A && git commit -m "Upgrade to level
N (Name)"` would after a plain `copier update`. Copier runs no task of this
template, so that it works without `--trust`: these steps are the CLI's.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from mlops_levels.answers import read_answers
from mlops_levels.errors import Failed

Identity = tuple[str, str]  # a committer's name and email


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` and return its output; a failure (Failed) says what failed."""
    return _checked(repo, args).decode(errors="surrogateescape")


def succeeds(repo: Path, *args: str) -> bool:
    """Whether git exits 0, for the questions git answers that way."""
    return _run(repo, args).returncode == 0


def resolve(repo: Path, revision: str) -> str | None:
    """The object `revision` names in `repo` (`v1^{tree}`, say), or None if there is none."""
    result = _run(repo, ("rev-parse", "--verify", "--quiet", revision))
    return result.stdout.strip() or None


def work_tree(folder: Path) -> Path | None:
    """The top of the git work tree holding `folder`, or None outside any."""
    result = _run(folder, ("rev-parse", "--show-toplevel"))
    return Path(result.stdout.strip()) if result.returncode == 0 else None


def status(repo: Path) -> list[str]:
    """`git status --porcelain`'s lines: every change not committed, untracked files too."""
    return git(repo, "status", "--porcelain").splitlines()


def init(repo: Path) -> None:
    git(repo, "init", "--quiet", "--initial-branch=main")


def commit(
    repo: Path, message: str, keep_out: Sequence[str] = (), identity: Identity | None = None
) -> None:
    """Commit everything in the folder, as the template wrote it, but `keep_out`.

    It commits as `identity`, else as the user's git identity, else as the
    project's author. `--no-verify`: pre-commit hooks (level 2 adds them) must
    not reformat or refuse what the template wrote; the commit records exactly that.
    """
    git(repo, "add", "--all", "--", ".")
    if keep_out:
        # Back to what HEAD has for them: nothing, in a new repository.
        git(repo, "reset", "--quiet", "--", *keep_out)
    git(repo, *_as(identity or _author(repo)), "commit", "--quiet", "--no-verify", "-m", message)


def tag(repo: Path, name: str, message: str, identity: Identity) -> None:
    """Tag HEAD with an annotated tag, which Copier reads as a template version."""
    git(repo, *_as(identity), "tag", "--annotate", "-m", message, name)


def start_repository(project: Path, message: str, keep_out: Sequence[str] = ()) -> None:
    """Make `project` a git repository if it is none, and commit it but `keep_out`:
    the files that were in the folder before the copy, which are the user's."""
    if not (project / ".git").exists():
        init(project)
    commit(project, message, keep_out)


def undo(repo: Path) -> bool:
    """Back to the last commit, removing what git does not know; files it ignores stay.
    Whether the tree is then clean."""
    undone = succeeds(repo, "reset", "--quiet", "--hard", "HEAD") and succeeds(
        repo, "clean", "--quiet", "-fd", "--", "."
    )
    return undone and not status(repo)


def deleted(repo: Path) -> list[str]:
    """The tracked files missing from the working tree."""
    return _listed(repo, "--deleted")


def committed(repo: Path, name: str) -> bytes:
    """A file's bytes as the last commit holds it."""
    return _checked(repo, ("show", f"HEAD:./{name}"))


def unmerged(repo: Path) -> set[str]:
    """The files git's index holds in conflict."""
    # Each entry is "<mode> <object> <stage>\t<path>", once per stage.
    return {entry.split("\t", 1)[1] for entry in _listed(repo, "--unmerged")}


def changed(repo: Path) -> list[str]:
    """The files that differ from the index, or that git does not know and does not ignore."""
    return _listed(repo, "--modified", "--others", "--exclude-standard")


def _listed(repo: Path, *options: str) -> list[str]:
    """What `git ls-files` lists with `options`, one entry a file (or a stage of one)."""
    return [entry for entry in git(repo, "ls-files", "-z", *options).split("\0") if entry]


def _author(repo: Path) -> Identity | None:
    """None if the user has a git identity, else the project's author from its answers."""
    if succeeds(repo, "config", "user.email"):
        return None
    answers = read_answers(repo).values
    return str(answers["author_name"]), str(answers["author_email"])


def _as(identity: Identity | None) -> list[str]:
    """git's options to act as `identity`; none for the user's own."""
    return ["-c", f"user.name={identity[0]}", "-c", f"user.email={identity[1]}"] if identity else []


def _checked(repo: Path, args: Sequence[str]) -> bytes:
    """git's output as bytes; a failure raises Failed with git's message."""
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)
    if result.returncode:
        stderr = result.stderr.decode(errors="replace").strip()
        raise Failed(f"git {' '.join(args)} failed in {repo}:\n{stderr}")
    return result.stdout


def _run(repo: Path, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
