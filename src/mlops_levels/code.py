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
# Import lines, absolute ones only: a relative import names the project's own modules.
# A line of a notebook's JSON that holds a line of source: `    "import x\n",`.
JSON_SOURCE = re.compile(r'^\s*"(.*?)(?:\\n)?",?$')
# `if __name__ == "__main__":` is found in the same search, as the group `guard`.
IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(?P<source>[A-Za-z_][\w.]*)[ \t]+import[ \t]+(?P<names>.*)"
    r"|import[ \t]+(?P<plain>\w.*))"
    r"|^(?P<guard>if[ \t]+__name__[ \t]*==[ \t]*['\"]__main__['\"])",
    re.MULTILINE,
)


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


Call = tuple[str, Use, bool]  # a call's name, where, and whether a comparison gates it


@dataclass
class Facts:
    """What one file's code does. Imports and the main guard are scanned line by line for
    every file (fast on a library of thousands); calls and tests are parsed with `ast` only
    for the files a rule asks about."""

    path: str
    pieces: list[tuple[int | None, str]]  # (notebook cell or None, code)
    imports: list[tuple[str, Use]] = field(default_factory=list)  # dotted module, where
    main_guard: bool = False  # `if __name__ == "__main__":` makes a module a command
    _parsed: tuple[list[Call], list[Use]] | None = None
    errors: list[str] = field(default_factory=list)

    def parsed(self) -> tuple[list[Call], list[Use]]:
        """(calls as name, where, gated), and the tests that assert something."""
        if self._parsed is None:
            calls: list[Call] = []
            tests: list[Use] = []
            for cell, text in self.pieces:
                try:
                    part_calls, part_tests = _parse(self.path, cell, text)
                except (SyntaxError, ValueError, RecursionError) as error:
                    where = f" (cell {cell})" if cell is not None else ""
                    why = str(error).splitlines()[0]
                    self.errors.append(f"does not parse as Python{where}: {why}")
                    continue
                calls += part_calls
                tests += part_tests
            self._parsed = calls, tests
        return self._parsed


def read_code(tree: Tree) -> dict[str, Facts]:
    """The facts of every Python file and notebook in the tree, by path."""
    # The project's own code first, its tests after: the clearest evidence of use.
    paths = sorted(tree.glob("**/*.py") + tree.glob("**/*.ipynb"), key=in_tests)
    if len(paths) > MAX_CODE_FILES:
        tree.warn(paths[MAX_CODE_FILES], f"past {MAX_CODE_FILES:,} code files: not read")
    code: dict[str, Facts] = {}
    for path in paths[:MAX_CODE_FILES]:
        facts = Facts(path, sources(path, tree.text(path)))
        pieces = facts.pieces
        if path.endswith(".ipynb") and not pieces and tree.text(path):
            # A notebook cut at the size limit (its outputs are large) is no JSON: its source
            # lines, JSON strings, still show its imports, at their lines in the file.
            pieces = [(None, "\n".join(_json_line(line) for line in tree.lines(path)))]
        for cell, text in pieces:
            # One search over the text, not a match per line: libraries have millions of lines.
            number, counted = 1, 0
            for match in IMPORT.finditer(text):
                number += text.count("\n", counted, match.start())
                counted = match.start()
                if match.group("guard"):
                    facts.main_guard = True
                    continue
                line = match.group(0)
                facts.imports += [(m, Use(path, number, line, cell)) for m in _modules(match)]
        code[path] = facts
    return code


def sources(path: str, text: str) -> list[tuple[int | None, str]]:
    """A file's code, as (cell, text): one piece for a .py file, one per notebook code cell."""
    if not path.endswith(".ipynb"):
        return [(None, text)]
    try:
        cells = json.loads(text).get("cells", []) if text else []
    except (ValueError, AttributeError, RecursionError):
        return []
    code = []
    for number, cell in enumerate(cells if isinstance(cells, list) else [], start=1):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            text = "".join(source) if isinstance(source, list) else str(source)
            code.append((number, "\n".join("" if MAGIC.match(t) else t for t in text.split("\n"))))
    return code


def _json_line(line: str) -> str:
    """A notebook's raw line `    "import x\\n",` as the code it holds, or nothing."""
    match = JSON_SOURCE.match(line)
    return match.group(1).replace('\\"', '"') if match else ""


def _modules(match: re.Match[str]) -> list[str]:
    """The dotted names an import line imports: `from a import b, c` is a, a.b and a.c."""
    if match.group("source"):
        source = match.group("source")
        names = re.findall(r"\b(\w+)(?:\s+as\s+\w+)?", match.group("names").split("#")[0])
        return [source, *(f"{source}.{name}" for name in names if name != "as")]
    parts = match.group("plain").split("#")[0].split(",")
    return [part.split()[0] for part in parts if part.split()]


def _parse(path: str, cell: int | None, text: str) -> tuple[list[Call], list[Use]]:
    tree = ast.parse(text)
    lines = text.splitlines()

    def use(node: ast.AST) -> Use:
        number = getattr(node, "lineno", 1)
        return Use(path, number, lines[number - 1] if number <= len(lines) else "", cell)

    calls: list[Call] = []
    for scope in [tree, *_functions(tree)]:
        nodes = _own_nodes(scope)
        gated = any(_is_gate(node) for node in nodes)
        for node in nodes:
            if isinstance(node, ast.Call) and (name := _call_name(node.func)):
                calls.append((name, use(node), gated))
    tests = [use(f) for f in _functions(tree) if _asserts(f)] if is_test_file(path) else []
    return calls, tests


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


def _is_main_guard(test: ast.AST) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
    )


def in_tests(path: str) -> bool:
    return is_test_file(path) or bool({"tests", "test"} & set(path.split("/")[:-1]))


def is_test_file(path: str) -> bool:
    # pytest's test_*.py and *_test.py, unittest's test*.py, Django's tests.py.
    name = path.rsplit("/", 1)[-1]
    return name.endswith(".py") and (name.startswith("test") or name.endswith("_test.py"))


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
