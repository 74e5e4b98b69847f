"""Shared readers for the security tests (tests/test_security_*.py): the levels
with each capability, the rendered workflows, the service module, and the names
that say a variable holds a secret.

The security baseline of generated projects is checked at every level where it
applies, from the render only; the scanners (actionlint, zizmor, hadolint,
GitLab's schema) run in the tier-2 files of each level.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import LEVELS, first_level

PACKAGE = "churn_model"  # what the project name "Churn Model" yields


def levels_with(capability: str) -> list[int]:
    return [level for level in LEVELS if level >= first_level(capability)]


TRACKING = levels_with("has_tracking")
PIPELINE = levels_with("has_pipeline")  # CI, and SECURITY.md
SERVING = levels_with("has_serving")
MONITORING = levels_with("has_monitoring")


# Names that say a variable holds a secret.
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|KEY|CREDENTIAL|WEBHOOK|HOOK", re.IGNORECASE)


def project(render, level: int, provider: str = "github") -> Path:
    """The render of `level` with a CI provider (GitHub Actions is the default answer)."""
    return render(level) if provider == "github" else render(level, ci_provider=provider)


# --- GitHub Actions ---------------------------------------------------------------


def workflows(root: Path) -> dict[str, tuple[str, dict]]:
    """Each workflow by file name: its text and what it parses to."""
    folder = root / ".github" / "workflows"
    return {
        path.name: (path.read_text(), yaml.safe_load(path.read_text()))
        for path in sorted(folder.glob("*.yml"))
    }


def walk(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every scalar of a parsed YAML document, with the keys and indexes that lead to it."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))
    else:
        yield path, node


# --- Git's ignore rules and .env.example ---------------------------------------------


def is_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def secret_names(render, level: int) -> set[str]:
    """Every secret the project uses: those its GitHub workflows take from the store."""
    if level not in PIPELINE:
        return set()
    names = set()
    for text, _ in workflows(render(level)).values():
        names |= set(re.findall(r"secrets\.(\w+)", text))
    return names - {"GITHUB_TOKEN"}


# --- The serving API -------------------------------------------------------------------


def service(root: Path) -> ast.Module:
    return ast.parse((root / "src" / PACKAGE / "service.py").read_text())


def routes(tree: ast.Module) -> dict[tuple[str, str], ast.AST]:
    """Each `@app.<method>(path)` handler, by method and path."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and isinstance(decorator.func, ast.Attribute)
                    and ast.unparse(decorator.func.value) == "app"
                ):
                    found[(decorator.func.attr, decorator.args[0].value)] = node
    return found
