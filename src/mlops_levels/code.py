"""What a project's Python code does, read with `ast`: what it imports, what it calls, and
which of its tests assert something.

Evidence from use, not names: a dependency counts when code imports it, a test file
when a test in it asserts, a registry call when a comparison gates it. Notebooks'
code cells count as code. Each file is parsed once, and at most MAX_CODE_FILES of them.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field

from mlops_levels.tree import Tree

# A library holds thousands of modules; past this many, the rest are not parsed (and said so).
MAX_CODE_FILES = 5_000
# Calls that gate what follows them, as pipelines' condition steps do, besides `if a > b`.
GATE_CALL = re.compile(r"^(Condition\w*|If|Elif|dsl_condition)$")
# Lines IPython runs that Python does not parse: magics and shell escapes.
MAGIC = re.compile(r"^\s*[%!]")


@dataclass(frozen=True)
class Use:
    """Where code uses something: `path:line: text`, or a notebook's cell."""

    path: str
    line: int
    text: str
    cell: int | None = None

    def __str__(self) -> str:
        where = f"cell {self.cell}, line {self.line}" if self.cell is not None else self.line
        return f"{self.path}:{where}: {self.text.strip()[:117]}"


@dataclass
class Facts:
    """What one file's code does."""

    imports: list[tuple[str, Use]] = field(default_factory=list)  # dotted module, where
    calls: list[tuple[str, Use, bool]] = field(default_factory=list)  # name, where, gated
    asserting_tests: list[Use] = field(default_factory=list)
    main_guard: bool = False  # `if __name__ == "__main__":` makes a module a command


def read_code(tree: Tree) -> dict[str, Facts]:
    """The facts of every Python file and notebook in the tree, by path; what does not
    parse is a warning."""
    # The project's own code first, its tests after: the clearest evidence of use.
    paths = sorted(tree.glob("**/*.py") + tree.glob("**/*.ipynb"), key=_in_tests)
    if len(paths) > MAX_CODE_FILES:
        tree.warn(paths[MAX_CODE_FILES], f"past {MAX_CODE_FILES:,} code files: not parsed")
    code: dict[str, Facts] = {}
    for path in paths[:MAX_CODE_FILES]:
        facts = Facts()
        for cell, text in sources(path, tree.lines(path)):
            try:
                part = read_facts(path, cell, text)
            except (SyntaxError, ValueError, RecursionError) as error:
                where = f" (cell {cell})" if cell is not None else ""
                tree.warn(path, f"does not parse as Python{where}: {str(error).splitlines()[0]}")
                continue
            facts.imports += part.imports
            facts.calls += part.calls
            facts.asserting_tests += part.asserting_tests
            facts.main_guard |= part.main_guard
        code[path] = facts
    return code


def sources(path: str, lines: list[str]) -> list[tuple[int | None, str]]:
    """A file's code, as (cell, text): one piece for a .py file, one per notebook code cell."""
    if not path.endswith(".ipynb"):
        return [(None, "\n".join(lines))]
    try:
        cells = json.loads("\n".join(lines)).get("cells", [])
    except (ValueError, AttributeError):
        return []
    code = []
    for number, cell in enumerate(cells if isinstance(cells, list) else [], start=1):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            text = "".join(source) if isinstance(source, list) else str(source)
            code.append((number, "\n".join("" if MAGIC.match(t) else t for t in text.split("\n"))))
    return code


def read_facts(path: str, cell: int | None, text: str) -> Facts:
    """The facts of one piece of code; raises SyntaxError (or ValueError) when it does not parse."""
    facts = Facts()
    tree = ast.parse(text)
    lines = text.splitlines()

    def use(node: ast.AST) -> Use:
        number = getattr(node, "lineno", 1)
        return Use(path, number, lines[number - 1] if number <= len(lines) else "", cell)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            facts.imports += [(alias.name, use(node)) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            facts.imports.append((node.module, use(node)))
            facts.imports += [(f"{node.module}.{alias.name}", use(node)) for alias in node.names]
        elif isinstance(node, ast.If) and _is_main_guard(node.test):
            facts.main_guard = True
    for scope in [tree, *_functions(tree)]:
        gated = any(_is_gate(node) for node in _own_nodes(scope))
        for node in _own_nodes(scope):
            if isinstance(node, ast.Call) and (name := _call_name(node.func)):
                facts.calls.append((name, use(node), gated))
    if _is_test_file(path):
        facts.asserting_tests = [use(f) for f in _functions(tree) if _asserts(f)]
    return facts


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def _own_nodes(scope: ast.AST) -> list[ast.AST]:
    """The nodes of a module or function, not those of the functions nested in it."""
    nodes, stack = [], list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            nodes.append(node)
            stack.extend(ast.iter_child_nodes(node))
    return nodes


def _is_gate(node: ast.AST) -> bool:
    """A comparison, or a call that gates what follows (a pipeline's condition step)."""
    if isinstance(node, ast.Compare):
        return not _is_main_guard(node)
    return isinstance(node, ast.Call) and bool(GATE_CALL.match(_call_name(node.func) or ""))


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
    )


def _in_tests(path: str) -> bool:
    return _is_test_file(path) or bool({"tests", "test"} & set(path.split("/")[:-1]))


def _is_test_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def _asserts(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A test that checks something: an assert that can hold, pytest.raises, self.assert*."""
    if not function.name.startswith("test"):
        return False
    for node in ast.walk(function):
        # `assert False` and `assert True` check nothing.
        if isinstance(node, ast.Assert):
            if not isinstance(node.test, ast.Constant):
                return True
        elif isinstance(node, ast.Call):
            name = _call_name(node.func) or ""
            if name == "raises" or name.startswith("assert"):
                return True
    return False
