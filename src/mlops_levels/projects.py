"""The projects in a folder: a monorepo's sub-projects, each one a folder `assess` can assess.

A project is a folder with a file that declares one: its dependencies
(pyproject.toml, setup.py, requirements*.txt, ...) or its pipeline (dvc.yaml,
MLproject, a Kedro or ZenML marker). A folder inside a project belongs to that
project, unless it declares dependencies of its own: a `pipelines/` folder
with its dvc.yaml is part of the project around it, a service with its own
pyproject.toml is a project. A project's `src/`, and the subpackages of a
Python package (Kedro's modular pipelines have their own requirements.txt),
are its code, whatever they declare. Documentation and test fixtures are never projects,
nor are the virtual environments and tool folders the tree already skips.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from mlops_levels.tree import Tree

# Files that make their folder a project of its own, even inside another project.
DEPENDENCY_FILES = re.compile(
    r"pyproject\.toml|setup\.py|setup\.cfg|Pipfile|requirements[\w.-]*\.txt"
    r"|environment\.ya?ml|conda\.ya?ml"
)
# Files that make their folder a project when no project holds it.
PROJECT_FILES = re.compile(r"dvc\.yaml|MLproject|recipe\.yaml|\.kedro\.yml")
PROJECT_FOLDERS = {".zen"}  # `zenml init`'s marker
# Folders whose project files describe something else: the docs' build, a test's
# sample project, a copy of someone else's code, a build's output.
NOT_PROJECTS = {
    "docs",
    "doc",
    "tests",
    "test",
    "fixtures",
    "vendor",
    "vendored",
    "third_party",
    "third-party",
    "build",
    "dist",
    "site-packages",
    ".eggs",
    "requirements",  # requirements/*.txt declares its parent's dependencies
}
# Each project listed is a walk of its own: more than this many, and the list names
# only the first; a project nested in this many others is not listed, so that a
# chain of nested projects costs a bounded number of walks over the same files.
MAX_PROJECTS = 100
MAX_NESTING = 2


def find_projects(tree: Tree) -> tuple[bool, list[str]]:
    """Whether the folder is a project itself, and the sub-projects under it, shallow first.

    Sub-projects are posix paths relative to the folder.
    """
    declared, packages = _declarations(tree)
    root_is_project = "" in declared
    projects: list[str] = []
    too_deep = 0
    for folder in sorted(declared, key=lambda path: (path.count("/"), path)):
        if folder == "" or _not_a_project(folder):
            continue
        around = [project for project in projects if folder.startswith(project + "/")]
        parent, name = _split(folder)
        # A subpackage is its package's code; a package at the top of a folder of
        # projects (ZenML's examples have an __init__.py each) may be a project.
        code = name == "src" or (folder in packages and parent in packages)
        if not (declared[folder] and not code) and (root_is_project or around):
            continue
        if len(around) >= MAX_NESTING:
            too_deep += 1
            continue
        projects.append(folder)
    if too_deep:
        tree.warn(".", f"{too_deep} projects nested in {MAX_NESTING} others: not listed")
    if len(projects) > MAX_PROJECTS:
        tree.warn(".", f"{len(projects)} projects found: only the first {MAX_PROJECTS} assessed")
        projects = projects[:MAX_PROJECTS]
    return root_is_project, projects


def _declarations(tree: Tree) -> tuple[dict[str, bool], set[str]]:
    """The folders with a project file, each with whether it declares dependencies; and
    the folders of importable Python code."""
    declared: dict[str, bool] = {}
    packages: set[str] = set()
    # `**/*`, not `**`: a name may hold a newline, which `**` (any character) does not span.
    for path in tree.glob("**/*"):
        parent, name = _split(path)
        if DEPENDENCY_FILES.fullmatch(name):
            declared[parent] = True
        elif PROJECT_FILES.fullmatch(name):
            declared.setdefault(parent, False)
        elif name == "__init__.py":
            packages.add(parent)
    for folder in tree.glob("**/*/"):
        parent, name = _split(folder.rstrip("/"))
        if name in PROJECT_FOLDERS:
            declared.setdefault(parent, False)
    return declared, packages


def _not_a_project(folder: str) -> bool:
    parts = PurePosixPath(folder).parts
    # A cookiecutter or Copier template's folder ({{ cookiecutter.name }}) is what a
    # project would be once generated, not one.
    return bool(set(parts) & NOT_PROJECTS) or any("{{" in part or "{%" in part for part in parts)


def _split(path: str) -> tuple[str, str]:
    parent, _, name = path.rpartition("/")
    return parent, name
