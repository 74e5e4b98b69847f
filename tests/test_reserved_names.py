"""Tier 1: the package names Copier refuses, held to their sources.

includes/reserved_names.yml is a maintained list; these tests tie it to what
it stands for: Python's keywords, its standard library, the distributions the
rendered pyproject.toml declares at each level with the names each installs,
and the modules the generated code imports. A dependency added to the
template without its names fails here, before a user's package shadows it.
"""

from __future__ import annotations

import ast
import json
import keyword
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest
import yaml
from copier import run_copy
from jinja2 import FileSystemLoader
from jinja2.sandbox import SandboxedEnvironment

from tests.helpers import LEVELS, REPO, template_snapshot

RESERVED = yaml.safe_load((REPO / "includes" / "reserved_names.yml").read_text(encoding="utf-8"))
VALIDATOR = yaml.safe_load((REPO / "copier.yml").read_text(encoding="utf-8"))["package_name"][
    "validator"
]
DEPENDENCY_NAMES = sorted({name for names in RESERVED["dependencies"].values() for name in names})
JINJA = SandboxedEnvironment(
    loader=FileSystemLoader(template_snapshot()),
    extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
)
PACKAGE = re.compile(r"^[a-z][a-z0-9_]*$")  # what the validator lets through to the lists


def distribution(requirement: str) -> str:
    """A requirement's distribution name, normalised as PyPI compares names (PEP 503)."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(project: Path) -> set[str]:
    """Every distribution a rendered pyproject.toml names: dependencies, extras and groups."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    extras = pyproject["project"].get("optional-dependencies", {}).values()
    groups = pyproject.get("dependency-groups", {}).values()
    requirements = [
        *pyproject["project"]["dependencies"],
        *(r for extra in extras for r in extra),
        *(r for group in groups for r in group),
    ]
    return {distribution(r) for r in requirements if isinstance(r, str)}


@cache
def refusal(name: str) -> str:
    """What copier.yml's own package_name validator says, in a Jinja environment like Copier's.

    Copier renders validators in a sandbox over the template's folder, with the
    Ansible filters (from_yaml among them): a copy per name would take a second.
    """
    return JINJA.from_string(VALIDATOR).render(package_name=name).strip()


def test_every_distribution_declared_at_any_level_has_its_names_reserved(render):
    declared_anywhere = set().union(*(declared(render(level)) for level in LEVELS))

    listed = {distribution(name) for name in RESERVED["dependencies"]}
    assert declared_anywhere - listed == set(), "add them to includes/reserved_names.yml"
    assert listed - declared_anywhere == set(), "no level declares them any more"
    for name, modules in RESERVED["dependencies"].items():
        # The distribution's own name is the console script a same-named package would replace.
        assert name.replace("-", "_") in modules, name


def test_every_third_party_module_the_generated_code_imports_is_reserved(render):
    project = render(LEVELS[-1], package_name="churn_model")
    imported: set[str] = set()
    for path in project.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.partition(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"churn_model"}

    reserved = set(DEPENDENCY_NAMES) | set(RESERVED["imported"])
    assert third_party - reserved == set(), "add them to includes/reserved_names.yml"


def test_keywords_and_standard_library_are_all_listed():
    names = [*keyword.kwlist, *keyword.softkwlist, *sys.stdlib_module_names]
    valid = {name for name in names if PACKAGE.match(name)}

    assert valid - set(RESERVED["keywords"]) - set(RESERVED["stdlib"]) == set()


@pytest.mark.parametrize(
    ("names", "says"),
    [
        (RESERVED["keywords"], "is a Python keyword"),
        (RESERVED["stdlib"], "would shadow the standard-library module"),
        (DEPENDENCY_NAMES, "installs; choose another package name"),
        (RESERVED["imported"], "which the project's code imports"),
    ],
    ids=["keywords", "stdlib", "dependencies", "imported"],
)
def test_every_reserved_name_is_refused_with_a_name_that_is_accepted(names, says):
    """Each name is refused, saying what it clashes with, and the suggested name passes."""
    for name in filter(PACKAGE.match, names):
        message = refusal(name)
        assert says in message, (name, message)
        suggestion = re.search(r'for example "([a-z0-9_]+)"', message)[1]
        assert refusal(suggestion) == "", (name, suggestion)


def test_refusal_names_the_distribution_that_installs_the_module():
    assert refusal("sklearn") == (
        '"sklearn" would shadow the sklearn module, which the project\'s dependency '
        'scikit-learn installs; choose another package name, for example "sklearn_project".'
    )


def test_package_name_orjson_is_refused_at_level_3_and_nothing_is_written(tmp_path):
    """orjson came in with the service at level 3 and once produced src/orjson/."""
    dest = tmp_path / "project"
    with pytest.raises(ValueError, match='"orjson" would shadow the orjson module') as refused:
        run_copy(
            str(template_snapshot()),
            dest,
            data={"project_name": "Churn Model", "level": 3, "package_name": "orjson"},
            defaults=True,
            quiet=True,
        )
    assert "orjson_project" in str(refused.value)
    assert not (dest / "src" / "orjson").exists()


@pytest.mark.slow
def test_reserved_names_cover_what_each_distribution_installs(installed):
    """The maintained list against the installed distributions' RECORD files.

    Extras and groups are added to the level-4 environment for this test: an
    inexact sync only adds, so the other tests on that project are unaffected.
    """
    project = installed(LEVELS[-1])
    script = (
        "import importlib.metadata as m, json, sys\n"
        "tops = {}\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    files = m.distribution(name).files or []\n"
        "    tops[name] = sorted({f.parts[0].removesuffix('.py') for f in files\n"
        "        if len(f.parts) > 1 or f.suffix in ('.py', '.so')})\n"
        "print(json.dumps(tops))\n"
    )
    result = subprocess.run(
        [
            "uv",
            "run",
            "--all-extras",
            "--all-groups",
            "python",
            "-c",
            script,
            json.dumps(sorted(RESERVED["dependencies"])),
        ],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    for name, tops in json.loads(result.stdout).items():
        importable = {top for top in tops if top.isidentifier()} - {"__pycache__"}
        assert importable - set(RESERVED["dependencies"][name]) == set(), name
