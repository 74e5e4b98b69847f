"""The `approval_gate` rule: a CI workflow whose deploy waits for a person, as its files show it.

GitHub: a job that deploys (its name says so, or it pushes an image, runs
kubectl or helm, or calls a webhook with curl) and names an `environment:`.
The environment's required reviewers are what make it wait, and those live in
the repository's settings, not in a file: the evidence says so. GitLab: a job
that deploys with `when: manual` (on the job or one of its rules), or with an
environment whose `deployment_tier` is production (which the project protects
in its settings).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from mlops_levels.tree import Line, Tree

# What a deploy runs, or is called. Publishing a package or a docs site is a release,
# not a deploy of the model: their usual environments are left out.
DEPLOYS = re.compile(
    r"\bdeploy|docker\s+push|podman\s+push|\bkubectl\b|\bhelm\b|\bcurl\b|build-push-action",
    re.IGNORECASE,
)
NOT_DEPLOYS = {"github-pages", "pypi", "testpypi"}
# GitLab CI's top-level keywords: anything else at the top is a job (or, with a dot, a template).
GITLAB_KEYWORDS = {"default", "include", "stages", "variables", "workflow", "image", "services"}
GITHUB_SETTINGS = (
    "its required reviewers live in the repository's settings (Settings > Environments), "
    "which no file shows"
)
GITLAB_SETTINGS = "its approvers live in the project's protected environments settings"


def find_approval_gate(
    tree: Tree, target: str, jobs: Callable[[str], dict[str, Any]] | None = None
) -> str | None:
    """The line that gates a deploy behind a person, and what it relies on; None if none does.

    `target` names what is gated; `deploy` is the only one today. `jobs` picks a CI
    file's jobs to look at (a monorepo's project sees the root's jobs that concern it).
    """
    if target != "deploy":
        raise ValueError(f"approval_gate: unknown target {target!r}; use deploy")
    for path in tree.glob(".github/workflows/*.yml") + tree.glob(".github/workflows/*.yaml"):
        found = _table(_table(tree.load(path)).get("jobs")) if jobs is None else jobs(path)
        for key, job in found.items():
            name = str(key)  # YAML keys need not be strings: `1:` is an int
            environment = _environment_name(_table(job).get("environment"))
            if environment and environment not in NOT_DEPLOYS and _deploys(name, job):
                line = _line_in_job(tree, path, name, re.compile(r"^\s*environment\s*:"))
                return f"{line} (job {name}: {GITHUB_SETTINGS})"
    for path in _gitlab_files(tree):
        if gate := _gitlab_gate(
            tree, path, _table(tree.load(path)) if jobs is None else jobs(path)
        ):
            return gate
    return None


def _gitlab_files(tree: Tree) -> list[str]:
    """.gitlab-ci.yml and the files of this repository it includes (`include: local`)."""
    main = ".gitlab-ci.yml"
    includes = _table(tree.load(main)).get("include")
    local = [_table(item).get("local", item) for item in _list(includes) or [includes]]
    files = [main]
    for path in local:
        # Written from the repository's root, with or without a leading /, and may be a
        # glob; a path out of the folder is not this repository's.
        if isinstance(path, str) and path and ".." not in path.split("/"):
            path = path.lstrip("/")
            files += tree.glob(path) if "*" in path else [path]
    return files


def _gitlab_gate(tree: Tree, path: str, jobs: dict[str, Any]) -> str | None:
    for key, job in jobs.items():
        name = str(key)
        if name.startswith(".") or name in GITLAB_KEYWORDS or not isinstance(job, dict):
            continue
        if not _deploys(name, job):
            continue
        if _manual(job):
            line = _line_in_job(tree, path, name, re.compile(r"^\s*-?\s*when\s*:\s*manual"))
            return f"{line} (job {name} waits for a person to run it)"
        if _table(job.get("environment")).get("deployment_tier") == "production":
            line = _line_in_job(tree, path, name, re.compile(r"^\s*deployment_tier\s*:"))
            return f"{line} (job {name}: {GITLAB_SETTINGS})"
    return None


def _environment_name(environment: Any) -> str | None:
    """A GitHub job's environment, written as a name or as {name: ..., url: ...}."""
    if isinstance(environment, dict):
        environment = environment.get("name")
    return environment.lower() if isinstance(environment, str) and environment else None


def _deploys(name: str, job: dict[str, Any]) -> bool:
    """Whether a job deploys: its id, its name, its stage or a command it runs says so."""
    if DEPLOYS.search(name):
        return True
    return any(DEPLOYS.search(text) for text in _texts(job))


def _texts(job: dict[str, Any]) -> Iterator[str]:
    """A job's name and stage, and what its steps and scripts run or use."""
    for key in ("name", "stage"):
        if isinstance(job.get(key), str):
            yield job[key]
    steps = job.get("steps")
    for step in steps if isinstance(steps, list) else []:
        for key in ("name", "run", "uses"):
            if isinstance(value := _table(step).get(key), str):
                yield value
    for key in ("before_script", "script", "after_script"):
        yield from _strings(job.get(key))


def _manual(job: dict[str, Any]) -> bool:
    """`when: manual` on a GitLab job, or on one of its rules."""
    rules = job.get("rules")
    whens = [job.get("when")] + [_table(rule).get("when") for rule in _list(rules)]
    return "manual" in whens


def _line_in_job(tree: Tree, path: str, job: str, wanted: re.Pattern[str]) -> Line | str:
    """The first line matching `wanted` inside a job's block, else the job's own line."""
    header = re.compile(rf"^(\s*)[\"']?{re.escape(job)}[\"']?\s*:")
    lines = tree.lines(path)
    for number, text in enumerate(lines, start=1):
        if match := header.match(text):
            indent = len(match.group(1))
            for offset, inner in enumerate(lines[number:], start=number + 1):
                if inner.strip() and not inner.lstrip().startswith("#"):
                    if len(inner) - len(inner.lstrip()) <= indent:
                        break
                    if wanted.search(inner):
                        return Line(path, offset, inner)
            return Line(path, number, text)
    return path


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    for item in _list(value):
        yield from _strings(item)
