"""Rules judged from what the code does: imports, calls, asserting tests, packages."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any

from mlops_levels.code import Facts, read_code
from mlops_levels.imports import import_names, imports_module
from mlops_levels.tree import Tree

# Where a package declares its commands.
SCRIPT_TABLES = (("project", "scripts"), ("project", "gui-scripts"), ("tool", "poetry", "scripts"))
SETUP_ENTRY = re.compile(r"console_scripts|entry_points")
TEST_FOLDERS = {"tests", "test", "testing"}


class CodeRules(Tree):
    """Evidence from the project's Python code and notebooks."""

    @cached_property
    def code(self) -> dict[str, Facts]:
        return read_code(self)

    def find_import(self, module: str) -> str | None:
        """The first line that imports the module or one inside it."""
        for facts in self.code.values():
            for imported, use in facts.imports:
                if imports_module(imported, module):
                    return str(use)
        return None

    def find_imported_distribution(self, distribution: str) -> str | None:
        for module in import_names(distribution):
            if found := self.find_import(module):
                return found
        return None

    def find_call(self, item: str | dict[str, Any]) -> str | None:
        """A call of `name` in a file that imports `module`; `gated`: behind a comparison."""
        spec = {"call": item} if isinstance(item, str) else item
        module, name, gated = spec.get("module"), spec["call"], spec.get("gated", False)
        for facts in self.code.values():
            if module and not any(imports_module(i, module) for i, _ in facts.imports):
                continue
            for called, use, is_gated in facts.calls:
                if called == name and (is_gated or not gated):
                    return str(use) + (" (behind a comparison)" if gated else "")
        return None

    def find_asserting_test(self) -> str | None:
        """A test function that asserts something: empty or `assert False` files are not tests."""
        for facts in self.code.values():
            if facts.asserting_tests:
                more = sum(len(f.asserting_tests) for f in self.code.values()) - 1
                return str(facts.asserting_tests[0]) + (f" (+{more} more tests)" if more else "")
        return None

    def find_package(self) -> str | None:
        """Importable code with an entry point: declared scripts, a __main__, a command
        module, or modules that other code imports. A loose script is not a package."""
        packages = self._packages()
        if not packages:
            return None
        for table in SCRIPT_TABLES:
            scripts = self.load("pyproject.toml")
            for key in table:
                scripts = scripts.get(key) if isinstance(scripts, dict) else None
            if isinstance(scripts, dict) and scripts:
                name = next(iter(scripts))
                found = self.locate("pyproject.toml", re.compile(rf"^\s*[\"']?{re.escape(name)}"))
                return f"{found} (package {packages[0]})"
        for path in ("setup.py", "setup.cfg"):
            if (found := self.locate(path, SETUP_ENTRY)) != path and self.is_text(path):
                return f"{found} (package {packages[0]})"
        for path, facts in self.code.items():
            folder = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
            command = path.endswith("/__main__.py") or facts.main_guard
            if command and any(folder.startswith(package) for package in packages):
                return f"{path} (a command in package {_package_of(folder, packages)})"
        return self._used_package(packages)

    def _packages(self) -> list[str]:
        """Top folders of importable code (with __init__.py), outside test folders."""
        inits = [path[: -len("__init__.py")] for path in self.glob("**/__init__.py")]
        found = set(inits)
        return [
            folder
            for folder in inits
            if _parent(folder) not in found and not TEST_FOLDERS & set(folder.split("/"))
        ]

    def _used_package(self, packages: list[str]) -> str | None:
        """A package whose modules code outside it imports: a notebook, a stage, a test."""
        names = {package.rstrip("/").rsplit("/", 1)[-1]: package for package in packages}
        for path, facts in self.code.items():
            for imported, use in facts.imports:
                package = names.get(imported.split(".")[0])
                if package and not path.startswith(package):
                    return f"{use} (uses package {package})"
        return None


def _parent(folder: str) -> str:
    """`src/pkg/sub/` -> `src/pkg/`."""
    return folder.rstrip("/").rsplit("/", 1)[0] + "/" if folder.count("/") > 1 else ""


def _package_of(folder: str, packages: list[str]) -> str:
    return next(package for package in packages if folder.startswith(package))
