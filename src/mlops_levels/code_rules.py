"""Rules judged from what the code does: imports, calls, asserting tests, packages."""

from __future__ import annotations

import functools
import re
from functools import cached_property
from typing import Any

from mlops_levels.code import Call, Facts, Use, in_tests, is_test_file, read_code
from mlops_levels.imports import import_names, imports_module
from mlops_levels.tree import Tree

# Where a package declares its commands.
SCRIPT_TABLES = (("project", "scripts"), ("project", "gui-scripts"), ("tool", "poetry", "scripts"))
SETUP_ENTRY = re.compile(r"console_scripts|entry_points")
TEST_FOLDERS = {"tests", "test", "testing"}
# Training in code: an estimator's fit, a trainer, a train function called (substrings:
# fast on a library's megabytes).
TRAINS = (".fit(", "Trainer(", "train(", "train_model(")


class CodeRules(Tree):
    """Evidence from the project's Python code and notebooks."""

    @cached_property
    def code(self) -> dict[str, Facts]:
        return read_code(self)

    @cached_property
    def _imports(self) -> dict[str, list[tuple[str, Use]]]:
        """Every import by its top-level module, in the order of the files."""
        index: dict[str, list[tuple[str, Use]]] = {}
        for facts in self.code.values():
            for imported, use in facts.imports:
                index.setdefault(imported.split(".")[0], []).append((imported, use))
        return index

    def find_import(self, module: str) -> str | None:
        """The first line that imports the module or one inside it."""
        for imported, use in self._imports.get(module.split(".")[0], []):
            if imports_module(imported, module):
                return str(use)
        return None

    def find_imported_distribution(self, distribution: str) -> str | None:
        for module in import_names(distribution):
            if found := self.find_import(module):
                return found
        return None

    def find_code(self, spec: dict[str, Any]) -> str | None:
        """Code that does something: in a file importing `module` (or every module of a
        list), a call whose name fully matches the regex `call` (`gated`: behind a
        comparison or a condition step), or a line matching the regex `text`."""
        modules = spec.get("module") or []
        modules = [modules] if isinstance(modules, str) else modules
        call = re.compile(spec["call"]) if "call" in spec else None
        text = re.compile(spec["text"]) if "text" in spec else None
        for path in self._importing(modules):
            facts = self.code[path]
            if text and (found := self.locate(path, text)) == path:
                continue
            if call is None:
                if text:
                    return str(found)
                return next(str(use) for i, use in facts.imports if imports_module(i, modules[0]))
            # Parse only a file whose text calls the name: parsing every file of a library is slow.
            if not any(literal in self.text(path) for literal in call_literals(call.pattern)):
                continue
            for name, use, gated in self._parsed(facts)[0]:
                if call.fullmatch(name) and (gated or not spec.get("gated")):
                    return str(use) + (" (behind a comparison)" if spec.get("gated") else "")
        return None

    def _importing(self, modules: list[str]) -> list[str]:
        """The code files that import every one of `modules`, in the code's order: from
        the index of imports, not by asking each of a library's thousands of files."""
        if not modules:
            return list(self.code)
        common = set.intersection(
            *(
                {
                    use.path
                    for imported, use in self._imports.get(module.split(".")[0], [])
                    if imports_module(imported, module)
                }
                for module in modules
            )
        )
        return [path for path in self.code if path in common]

    def find_asserting_test(self) -> str | None:
        """A test function that asserts something: empty or `assert False` files are not tests."""
        for path, facts in self.code.items():
            if is_test_file(path) and (tests := self._parsed(facts)[1]):
                return str(tests[0])
        return None

    def _parsed(self, facts: Facts) -> tuple[list[Call], list[Use]]:
        """A file's calls and asserting tests; a file that does not parse is a warning."""
        parsed = facts.parsed()
        for error in facts.errors:
            self.warn(facts.path, error)
        return parsed

    def find_package(self) -> str | None:
        """Training code in importable modules with an entry point: declared scripts, a
        __main__, a command module, or modules other code imports. A loose script is not."""
        packages = self._training(self._packages())
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
        folders = set(packages)
        for path, facts in self.code.items():
            package = _package_of(path, folders)
            if package and (path.endswith("/__main__.py") or facts.main_guard):
                return f"{path} (a command in package {package})"
        return self._used_package(packages)

    def _packages(self) -> list[str]:
        """Top folders of importable code: with __init__.py, or imported by name (a
        namespace package), outside test folders."""
        inits = {path[: -len("__init__.py")] for path in self.glob("**/__init__.py")}
        folders = self._paths[1]
        for name in self._imports:
            for folder in (name, f"src/{name}"):
                if folder in folders and self.glob(f"{folder}/*.py"):
                    inits.add(folder + "/")
        return sorted(
            folder
            for folder in inits
            if _parent(folder) not in inits and not TEST_FOLDERS & set(folder.split("/"))
        )

    def _training(self, packages: list[str]) -> list[str]:
        """The packages that hold training code: a train module, or a fit or train call.

        One pass over the code, each file looked up by its folders: a library has
        thousands of packages and of modules, and pairing them all is quadratic.
        """
        wanted, training = set(packages), set()
        for path in self.code:
            package = _package_of(path, wanted)
            if package is None or package in training:
                continue
            name = path.rsplit("/", 1)[-1]
            if "train" in name or any(call in self.text(path) for call in TRAINS):
                training.add(package)
        return [package for package in packages if package in training]

    def _used_package(self, packages: list[str]) -> str | None:
        """A package whose modules code outside it imports: a notebook, a stage, a script
        (not only its tests: a test runs code, it is not how the code is run)."""
        names = {package.rstrip("/").rsplit("/", 1)[-1]: package for package in packages}
        for path, facts in self.code.items():
            if in_tests(path):
                continue
            for imported, use in facts.imports:
                package = names.get(imported.split(".")[0])
                if package and not path.startswith(package):
                    return f"{use} (uses package {package})"
        return None


@functools.lru_cache(maxsize=256)
def call_literals(pattern: str) -> list[str]:
    """What text must hold for a call pattern of names (`log_metrics?|init`) to match:
    a substring search is far faster than a regex over a library's megabytes."""
    literals = [re.sub(r".\?", "", name) for name in pattern.split("|")]
    if any(re.search(r"[^\w]", literal) for literal in literals):
        raise ValueError(f"levels/: a call is names separated by |, not {pattern!r}")
    return literals


def _package_of(path: str, packages: set[str]) -> str | None:
    """The outermost of `packages` (folders ending in `/`, or "" for the root) holding `path`."""
    prefix = ""
    for part in path.split("/")[:-1]:
        if prefix in packages:
            return prefix
        prefix += part + "/"
    return prefix if prefix in packages else None


def _parent(folder: str) -> str:
    """`src/pkg/sub/` -> `src/pkg/`."""
    return folder.rstrip("/").rsplit("/", 1)[0] + "/" if folder.count("/") > 1 else ""
