"""Tier 1: the security baseline of the serving code, read from the render.

The serving API's routes and limits, and how model files are loaded.

Files are read, but for one slow test: schemathesis with every check against
the level-4 service under real uvicorn, so that the OpenAPI schema promises
what the service accepts. The rest of the service's behaviour (413, 422s,
the HTTP limits) is tested by the generated tests/serving/ and by
tests/test_level_3.py.
"""

from __future__ import annotations

import ast
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import LEVELS, free_port, run, start_service
from tests.security import PACKAGE, SERVING, TRACKING, routes, service

# The service's routes, all read-only but /predict: nothing reloads or swaps a model.
ROUTES = {
    ("get", "/health"),
    ("get", "/ready"),
    ("post", "/predict"),
    ("get", "/model"),
    ("get", "/metrics"),
}
# Calls that turn bytes into live objects without a list of trusted types.
UNSAFE_LOADS = {
    ("pickle", "load"),
    ("pickle", "loads"),
    ("cloudpickle", "load"),
    ("cloudpickle", "loads"),
    ("dill", "load"),
    ("dill", "loads"),
    ("joblib", "load"),
    ("torch", "load"),
    ("yaml", "load"),
    ("yaml", "unsafe_load"),
}


# --- The serving API -------------------------------------------------------------------


def calls(node: ast.AST) -> set[str]:
    """The names of the functions and methods that `node` calls."""
    names = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            func = child.func
            names.add(func.attr if isinstance(func, ast.Attribute) else ast.unparse(func))
    return names


@pytest.mark.parametrize("level", SERVING)
def test_service_has_exactly_its_documented_routes_and_no_admin_endpoint(render, level):
    tree = service(render(level))

    assert set(routes(tree)) == ROUTES
    # No other way to add a route: one router, no mount, websocket or raw route.
    registrations = {"add_api_route", "api_route", "include_router", "mount", "add_route"}
    assert calls(tree) & (registrations | {"websocket", "add_websocket_route"}) == {
        "include_router"
    }
    assert ast.unparse(tree).count("include_router(") == 1


@pytest.mark.parametrize("level", SERVING)
def test_no_route_loads_a_model(render, level):
    loaders = {"load_champion", "load_version", "load_model", "download_artifacts", "load"}

    for route, handler in routes(service(render(level))).items():
        assert calls(handler) & loaders == set(), route


@pytest.mark.parametrize("level", SERVING)
def test_service_limits_the_body_and_forbids_unknown_fields(render, level):
    root = render(level)
    tree = service(root)
    functions = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    classes = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    source = ast.unparse(tree)
    serving = yaml.safe_load((root / "params.yaml").read_text())["serving"]

    assert isinstance(serving["max_request_bytes"], int) and serving["max_request_bytes"] > 0
    assert "app.add_middleware(Guard, max_bytes=settings.serving.max_request_bytes" in source
    guard = ast.unparse(classes["Guard"])
    assert "'status': 413" in guard and "content-length" in guard
    for name in ("row_model", "request_model"):
        assert "ConfigDict(extra='forbid'" in ast.unparse(functions[name]), name
    assert "max_length=max_batch_size" in ast.unparse(functions["request_model"])


@pytest.mark.parametrize("level", SERVING)
def test_uvicorn_runs_with_the_http_limits(render, level):
    server = ast.unparse(
        ast.parse((render(level) / "src" / PACKAGE / "serving" / "server.py").read_text())
    )

    assert "**http_options(metrics)" in server


@pytest.mark.slow
def test_schemathesis_finds_nothing_with_every_check(installed, tmp_path):
    """The schema says what /predict accepts: no valid request is refused, no
    invalid one accepted, every answer as documented."""
    project = installed(4)
    run(project, "uv", "run", "--no-sync", "dvc", "repro")
    port = free_port()
    log = tmp_path / "service.log"
    process = start_service(project, ["-m", PACKAGE, "serve", "--port", str(port)], port, log)
    try:
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"http://127.0.0.1:{port}/openapi.json",
                *("--checks", "all", "--max-examples", "100", "--request-timeout", "10"),
                "--generation-deterministic",
            ],
            cwd=tmp_path,  # its report folder goes there, not into this repo
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout


# --- Model files -------------------------------------------------------------------------


def python_sources(root: Path) -> dict[str, ast.Module]:
    """Every Python module of the project, and the code of each notebook."""
    sources = {
        str(path.relative_to(root)): ast.parse(path.read_text())
        for path in sorted(root.rglob("*.py"))
    }
    for notebook in sorted((root / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        code = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
        sources[str(notebook.relative_to(root))] = ast.parse(code)
    return sources


def dotted(node: ast.AST) -> str:
    return ast.unparse(node) if isinstance(node, ast.Attribute | ast.Name) else ""


@pytest.mark.parametrize("level", LEVELS)
def test_models_load_only_with_an_explicit_list_of_trusted_types(render, level):
    for name, tree in python_sources(render(level)).items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            function = dotted(node.func)
            module, _, attribute = function.rpartition(".")
            assert (module.rpartition(".")[2], attribute) not in UNSAFE_LOADS, (name, function)
            if function == "skops.io.load":
                trusted = {keyword.arg: keyword.value for keyword in node.keywords}["trusted"]
                assert isinstance(trusted, ast.Name), (name, ast.unparse(node))
            if attribute == "load_model":
                # Only the notebook reloads, from the MLflow run it has just logged.
                assert name.startswith("notebooks/"), (name, function)
                assert [ast.unparse(arg) for arg in node.args] == ["result.model_uri"]


@pytest.mark.parametrize("level", TRACKING)
def test_train_states_the_trusted_types_and_logs_the_model_with_them(render, level):
    train = ast.parse((render(level) / "src" / PACKAGE / "train.py").read_text())

    [declared] = [
        node
        for node in train.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "SKOPS_TRUSTED_TYPES"
    ]
    assert isinstance(declared.value, ast.List)
    assert all(isinstance(item.value, str) for item in declared.value.elts)
    assert "skops_trusted_types=SKOPS_TRUSTED_TYPES" in ast.unparse(train)


@pytest.mark.parametrize("level", SERVING)
def test_registry_loads_only_skops_models_with_the_trusted_types(render, level):
    path = render(level) / "src" / PACKAGE / "serving" / "registry.py"
    registry = ast.unparse(ast.parse(path.read_text()))

    assert "from ..train import SKOPS_TRUSTED_TYPES" in registry
    assert "skops.io.load(local / flavor['pickled_model'], trusted=SKOPS_TRUSTED_TYPES)" in registry
    assert "flavor.get('serialization_format') != 'skops'" in registry
