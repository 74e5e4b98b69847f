"""Tier 1: the security baseline of generated projects, read from the render.

At every level where it applies: the workflows (actions pinned to SHAs, no
`pull_request_target`, least privilege, secrets only through `env:`/`with:`),
GitLab CI (no secret values), the Dockerfile and its build context (non-root,
no secrets in layers), git's ignore rules, `.env.example` (every variable the
project reads, placeholders only), the serving API's routes and limits, how
model files are loaded, pip-audit in CI, and SECURITY.md.

Only files are read: the service's behaviour (413, 422s, schemathesis) is
tested by the generated test_service.py and by tests/test_level_3.py, and the
scanners (actionlint, zizmor, hadolint, GitLab's schema) run in the tier-2
files of each level.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.helpers import LADDER, LEVELS, REPO

COPIER = yaml.safe_load((REPO / "copier.yml").read_text())
PACKAGE = "churn_model"  # what the project name "Churn Model" yields


def first_level(capability: str) -> int:
    """The lowest level with a capability, as copier.yml computes it ("level >= N")."""
    return int(re.fullmatch(r"\{\{ level >= (\d+) \}\}", COPIER[capability]["default"])[1])


def levels_with(capability: str) -> list[int]:
    return [level for level in LEVELS if level >= first_level(capability)]


TRACKING = levels_with("has_tracking")
PIPELINE = levels_with("has_pipeline")  # CI, and SECURITY.md
SERVING = levels_with("has_serving")
MONITORING = levels_with("has_monitoring")
PROVIDERS = ["github", "gitlab"]

# Names that say a variable holds a secret.
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|KEY|CREDENTIAL|WEBHOOK|HOOK", re.IGNORECASE)
# The only write permissions a job may ask for, by workflow and job.
WRITE_PERMISSIONS = {("cd.yml", "image"): {"packages"}, ("monitor.yml", "retrain"): {"actions"}}
# The events a workflow may run on: none of them gives a fork's code secrets.
TRIGGERS = {"push", "pull_request", "schedule", "workflow_dispatch"}
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


@pytest.mark.parametrize("level", PIPELINE)
def test_every_action_is_pinned_to_a_commit_sha(render, level):
    for name, (_, workflow) in workflows(project(render, level)).items():
        uses = [value for path, value in walk(workflow) if path[-1:] == ("uses",)]
        assert uses, name
        for action in uses:
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), (name, action)


@pytest.mark.parametrize("level", PIPELINE)
def test_no_workflow_runs_on_pull_request_target(render, level):
    for name, (text, workflow) in workflows(project(render, level)).items():
        # YAML 1.1 reads the key `on` as true.
        events = workflow.get("on", workflow.get(True))
        assert "pull_request_target" not in text, name
        assert set(events) <= TRIGGERS, name


@pytest.mark.parametrize("level", PIPELINE)
def test_workflows_grant_nothing_and_each_job_only_what_it_needs(render, level):
    for name, (_, workflow) in workflows(project(render, level)).items():
        assert workflow["permissions"] == {}, name
        for job_id, job in workflow["jobs"].items():
            permissions = job["permissions"]  # every job states its own
            assert isinstance(permissions, dict), (name, job_id, permissions)
            writes = {scope for scope, access in permissions.items() if access == "write"}
            assert set(permissions.values()) <= {"read", "write", "none"}, (name, job_id)
            assert writes <= WRITE_PERMISSIONS.get((name, job_id), set()), (name, job_id)


@pytest.mark.parametrize("level", PIPELINE)
def test_secrets_reach_steps_only_through_env_or_with(render, level):
    for name, (_, workflow) in workflows(project(render, level)).items():
        for path, value in walk(workflow):
            if not isinstance(value, str):
                continue
            if "secrets." in value or "github.token" in value:
                assert path[-2] in {"env", "with"}, (name, path)
            if path[-1] == "run":
                # No expression of any kind is expanded into a shell script.
                assert "${{" not in value, (name, path)
            if path[-2:-1] == ("env",) and is_secret(path[-1]):
                assert re.fullmatch(r"\$\{\{ (secrets\.\w+|github\.token) \}\}", value), (
                    name,
                    path,
                )


# --- GitLab CI -----------------------------------------------------------------------


@pytest.mark.parametrize("level", PIPELINE)
def test_gitlab_ci_holds_no_secret_value(render, level):
    root = project(render, level, "gitlab")
    config = yaml.safe_load((root / ".gitlab-ci.yml").read_text())
    names = secret_names(render, level)

    for path, value in walk(config):
        if "variables" in path:
            variable = path[path.index("variables") + 1]
            assert not is_secret(variable) and variable not in names, path
        if isinstance(value, str):
            assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", value), path  # no user:password@
            for line in value.splitlines():
                for secret in names:
                    # Read as $NAME, never set: the value is a CI/CD variable.
                    assert not re.search(rf"\b{secret}\s*=", line), (path, line)
                if "docker login" in line:
                    assert "--password-stdin" in line and "--password " not in line, line


# --- The container -------------------------------------------------------------------


def dockerfile(root: Path) -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, without comments."""
    instructions, current = [], ""
    for line in (root / "Dockerfile").read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            keyword, _, rest = current.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
            current = ""
    return instructions


def env_names(rest: str) -> list[str]:
    """The variables an ENV instruction sets: `A=1 B=2`, or the old `A 1` form."""
    words = shlex.split(rest)
    if words and "=" not in words[0]:
        return [words[0]]
    return [word.partition("=")[0] for word in words]


@pytest.mark.parametrize("level", SERVING)
def test_container_runs_as_a_user_without_privileges(render, level):
    instructions = dockerfile(render(level))
    final_stage = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    runtime = instructions[final_stage:]

    users = [rest for keyword, rest in runtime if keyword == "USER"]
    cmd = next(i for i, (keyword, _) in enumerate(runtime) if keyword == "CMD")
    assert users, "the image runs as root"
    assert all(i < cmd for i, (keyword, _) in enumerate(runtime) if keyword == "USER")
    assert users[-1].split(":")[0] not in {"root", "0"}


@pytest.mark.parametrize("level", SERVING)
def test_no_secret_is_baked_into_an_image_layer(render, level):
    names = secret_names(render, level)
    for keyword, rest in dockerfile(render(level)):
        if keyword == "ENV":
            variables = env_names(rest)
        elif keyword == "ARG":
            variables = [rest.partition("=")[0]]
        else:
            continue
        for variable in variables:
            assert not is_secret(variable) and variable not in names, (keyword, rest)


def docker_ignored(patterns: list[str], path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context: the last pattern
    that matches it or a folder above it decides, as Docker's matcher does."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.lstrip("!").strip("/")
        regex = re.escape(body).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
        regex = regex.replace(r"\?", "[^/]").replace(r"\[", "[").replace(r"\]", "]")
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            ignored = not negated
    return ignored


@pytest.mark.parametrize("level", SERVING)
def test_build_context_keeps_out_secrets_data_models_and_the_mlflow_store(render, level):
    root = render(level)
    lines = (root / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    kept_out = [
        ".env",
        ".env.production",
        ".git/config",
        ".venv/bin/python",
        "mlflow.db",
        "mlartifacts/1/model/model.skops",
        "data/raw/breast_cancer.csv",
        "data/predictions.db",
        "models/model.skops",
    ]
    let_in = ["pyproject.toml", "uv.lock", "params.yaml", f"src/{PACKAGE}/service.py"]

    assert [path for path in kept_out if not docker_ignored(patterns, path)] == []
    assert [path for path in let_in if docker_ignored(patterns, path)] == []


# --- Git's ignore rules and .env.example ---------------------------------------------


def git_ignored(root: Path, paths: list[str], tmp_path: Path) -> dict[str, bool]:
    """Whether git would ignore each path under the project's .gitignore."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "--quiet", str(repo)], check=True)
    (repo / ".gitignore").write_bytes((root / ".gitignore").read_bytes())
    result = subprocess.run(
        ["git", "-C", str(repo), "check-ignore", "--verbose", "--non-matching", "--stdin"],
        input="\n".join(paths) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    answers = {}
    for line in result.stdout.splitlines():
        source, _, path = line.partition("\t")
        pattern = source.split(":", 2)[-1]
        answers[path] = bool(pattern) and not pattern.startswith("!")
    return answers


def kept_out_of_git(level: int) -> list[str]:
    paths = [
        ".env",
        ".env.local",
        "data/raw/customers.csv",
        "data/processed/train.csv",
        "models/model.skops",
        "mlflow.db",
        "mlartifacts/1/abc/artifacts/model.skops",
        "reports/figures/class_balance.png",
    ]
    if level in TRACKING:
        paths += [".dvc/cache/files/md5/00/11", ".dvc-storage/files/md5/00/11"]
    if level in PIPELINE:
        paths += ["reports/evaluate_run.json"]
    if level in SERVING:
        paths += ["reports/registry/promotion.json"]
    if level in MONITORING:
        paths += [
            "data/predictions.db",
            "data/predictions.db-wal",
            "data/labels.csv",
            "reports/monitoring/drift.html",
            "reports/retraining/decision.json",
        ]
    return paths


def kept_in_git(level: int) -> list[str]:
    paths = ["params.yaml", "data/raw/.gitkeep"]
    if level in TRACKING:
        paths += [".env.example", "data/raw/breast_cancer.csv.dvc"]
    if level in PIPELINE:
        paths += ["dvc.lock", "reports/metrics.json"]  # the pipeline's record, compared by DVC
    return paths


@pytest.mark.parametrize("level", LEVELS)
def test_gitignore_keeps_out_secrets_data_models_stores_and_written_reports(
    render, level, tmp_path
):
    out, kept = kept_out_of_git(level), kept_in_git(level)

    ignored = git_ignored(render(level), out + kept, tmp_path)

    assert [path for path in out if not ignored[path]] == []
    assert [path for path in kept if ignored[path]] == []


ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
PLACEHOLDER_HOSTS = re.compile(r"^(.+\.)?example\.(org|com|net)$|^localhost$|^127\.0\.0\.1$")


def env_example(root: Path) -> dict[str, tuple[bool, str]]:
    """The variables of .env.example: whether each is commented out, and its value."""
    found = {}
    for line in (root / ".env.example").read_text().splitlines():
        match = ASSIGNMENT.match(line)
        if match:
            found[match[2]] = (match[1] is not None, match[3])
    return found


def is_placeholder(value: str) -> bool:
    """Empty, a port, a loopback address, or a URL on an example or loopback host."""
    if value in {"", "127.0.0.1", "0.0.0.0"} or value.isdigit():
        return True
    url = urlsplit(value)
    return bool(url.scheme and url.hostname and PLACEHOLDER_HOSTS.match(url.hostname))


def is_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def module_constants(source: Path) -> dict[str, str]:
    """Every module-level `NAME = "text"` of the package: the names of variables."""
    constants = {}
    for module in source.glob("*.py"):
        for node in ast.parse(module.read_text()).body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                        constants[target.id] = node.value.value
    return constants


def variables_read(root: Path) -> set[str]:
    """The environment variables the package reads: os.environ.get, os.getenv, os.environ[]."""
    source = root / "src" / PACKAGE
    constants = module_constants(source)
    read = set()
    for module in source.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            argument = None
            if isinstance(node, ast.Call) and ast.unparse(node.func) in {
                "os.environ.get",
                "os.getenv",
            }:
                argument = node.args[0]
            elif (
                isinstance(node, ast.Subscript)
                and isinstance(node.ctx, ast.Load)
                and ast.unparse(node.value) == "os.environ"
            ):
                argument = node.slice
            if isinstance(argument, ast.Constant):
                read.add(argument.value)
            elif isinstance(argument, ast.Name) and argument.id in constants:
                read.add(constants[argument.id])
    return read


def secret_names(render, level: int) -> set[str]:
    """Every secret the project uses: those its GitHub workflows take from the store."""
    if level not in PIPELINE:
        return set()
    names = set()
    for text, _ in workflows(render(level)).values():
        names |= set(re.findall(r"secrets\.(\w+)", text))
    return names - {"GITHUB_TOKEN"}


@pytest.mark.parametrize("level", LEVELS)
def test_env_example_exists_from_the_first_level_that_reads_secrets(render, level):
    assert (render(level) / ".env.example").exists() == (level in TRACKING)


# Each level with .env.example, with each CI provider from the level that asks for one.
ENV_VARIANTS = [(level, "github") for level in TRACKING] + [
    (level, provider) for level in PIPELINE for provider in ("gitlab", "none")
]


@pytest.mark.parametrize(("level", "provider"), ENV_VARIANTS)
def test_env_example_names_every_variable_the_project_reads(render, level, provider):
    root = project(render, level, provider)
    expected = variables_read(root) | {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"}
    if provider != "none":
        expected |= secret_names(render, level)

    assert "MLFLOW_TRACKING_URI" in variables_read(root)
    assert expected - env_example(root).keys() == set()


@pytest.mark.parametrize("level", TRACKING)
def test_env_example_has_placeholders_only_and_sets_nothing_as_it_stands(render, level):
    variables = env_example(render(level))

    assert variables
    for name, (commented, value) in variables.items():
        assert is_placeholder(value), (name, value)
        # Loaded unedited it sets nothing: an empty SERVING_HOST would make the
        # service listen on every address, and an empty SERVING_PORT stop it.
        assert commented, name


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
    # No other way to add a route: no router, mount, websocket or raw route.
    registrations = {"add_api_route", "api_route", "include_router", "mount", "add_route"}
    assert calls(tree) & (registrations | {"websocket", "add_websocket_route"}) == set()


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
    assert "app.add_middleware(Guard, max_bytes=settings.max_request_bytes" in source
    guard = ast.unparse(classes["Guard"])
    assert "'status': 413" in guard and "content-length" in guard
    for name in ("row_model", "request_model"):
        assert "ConfigDict(extra='forbid'" in ast.unparse(functions[name]), name
    assert "max_length=max_batch_size" in ast.unparse(functions["request_model"])


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
    registry = ast.unparse(ast.parse((render(level) / "src" / PACKAGE / "registry.py").read_text()))

    assert "from .train import SKOPS_TRUSTED_TYPES" in registry
    assert "skops.io.load(local / flavor['pickled_model'], trusted=SKOPS_TRUSTED_TYPES)" in registry
    assert "flavor.get('serialization_format') != 'skops'" in registry


# --- pip-audit in CI -------------------------------------------------------------------------


def audit_commands(root: Path, provider: str) -> tuple[str, list[str]]:
    """The CI job that runs pip-audit, and its commands in order."""
    if provider == "github":
        _, workflow = workflows(root)["ci.yml"]
        for job_id, job in workflow["jobs"].items():
            commands = [step["run"] for step in job["steps"] if "run" in step]
            if any("pip-audit" in command for command in commands):
                return job_id, commands
    else:
        config = yaml.safe_load((root / ".gitlab-ci.yml").read_text())
        for job_id, job in config.items():
            if isinstance(job, dict) and any("pip-audit" in line for line in job.get("script", [])):
                assert job["extends"] == ".uv" and "rules" not in job  # out of MLOPS_TASK pipelines
                return job_id, [*config[".uv"]["before_script"], *job["script"]]
    raise AssertionError("no CI job runs pip-audit")


def audit_version(root: Path, provider: str) -> str:
    _, commands = audit_commands(root, provider)
    return re.search(r"uvx pip-audit@(\d+\.\d+\.\d+) ", "\n".join(commands))[1]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("level", PIPELINE)
def test_ci_audits_the_locked_dependencies_with_a_pinned_pip_audit(render, level, provider):
    root = project(render, level, provider)
    _, commands = audit_commands(root, provider)
    lines = [line.strip() for command in commands for line in command.splitlines()]

    install = lines.index("uv sync --locked")
    [export] = [i for i, line in enumerate(lines) if line.startswith("uv export ")]
    [audit] = [i for i, line in enumerate(lines) if "pip-audit" in line]
    exported = shlex.split(lines[export])
    audited = shlex.split(lines[audit])
    assert install < export < audit
    assert {"--frozen", "--no-emit-project"} <= set(exported)
    assert exported[exported.index("--format") + 1] == "requirements-txt"
    # The file uv writes is the file pip-audit reads, and only its pins count.
    assert exported[-2] == ">" and audited[audited.index("--requirement") + 1] == exported[-1]
    assert {"--strict", "--disable-pip"} <= set(audited)
    assert re.fullmatch(r"pip-audit@\d+\.\d+\.\d+", audited[1])


@pytest.mark.parametrize("level", PIPELINE)
def test_both_providers_audit_with_the_same_pip_audit(render, level):
    versions = {audit_version(project(render, level, provider), provider) for provider in PROVIDERS}

    assert len(versions) == 1


# --- SECURITY.md ---------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_security_md_comes_with_the_pipeline_level_and_the_readme_points_to_it(render, level):
    root = render(level)

    assert (root / "SECURITY.md").exists() == (level in PIPELINE)
    assert ("`SECURITY.md`" in (root / "README.md").read_text()) == (level in PIPELINE)


REPORTING = {
    "github": "GitHub's private vulnerability reporting",
    "gitlab": "open a confidential issue",
    "none": COPIER["author_email"]["default"],
}


@pytest.mark.parametrize("provider", REPORTING)
@pytest.mark.parametrize("level", PIPELINE)
def test_security_md_says_how_to_report_a_problem_privately(render, level, provider):
    text = " ".join((project(render, level, provider) / "SECURITY.md").read_text().split())

    assert REPORTING[provider] in text
    assert COPIER["author_email"]["default"] in text  # the fallback everywhere


@pytest.mark.parametrize("provider", REPORTING)
@pytest.mark.parametrize("level", PIPELINE)
def test_security_md_claims_only_what_the_level_has(render, level, provider):
    root = project(render, level, provider)
    text = " ".join((root / "SECURITY.md").read_text().split())

    assert f"level {level} ({LADDER[level]['name']})" in text
    claims = {
        "Every third-party action is pinned to a full commit SHA": provider == "github",
        "pip-audit, at a pinned version": provider != "none",
        "`serving.max_request_bytes`": level in SERVING,
        "`SKOPS_TRUSTED_TYPES`": True,
        "runs as `app`": level in SERVING,
        "no reload or admin endpoint": level in MONITORING,
        "`$PREDICTION_LOG_URL`": level in MONITORING,
    }
    assert {claim: claim in text for claim in claims} == claims
    if provider == "github":
        # The step it names is there.
        _, workflow = workflows(root)["ci.yml"]
        step_names = {step.get("name") for step in workflow["jobs"]["test"]["steps"]}
        assert '"Audit the dependencies" step of the Tests job' in text
        assert "Audit the dependencies" in step_names
        assert workflow["jobs"]["test"]["name"] == "Tests"
