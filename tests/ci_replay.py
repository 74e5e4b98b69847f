"""Replay a generated project's CI as a fresh runner would, from its workflow files.

Each job runs in its own `git clone` of the project as committed, with a fresh
HOME, no virtual environment, and only uv and the system tools on PATH. The
commands are the `run:` (GitHub) or `before_script`/`script`/`after_script`
(GitLab) lines of the workflow files themselves, run with the runners' shell
options, in the environment the workflow, job and step set. Secrets are what
the caller passes: unset ones are empty strings on GitHub and absent variables
on GitLab, as on the real runners.

What a runner does that cannot happen here is replaced by a local equivalent,
each one named in a job's `notes`:

- actions/checkout is the clone; astral-sh/setup-uv is uv on PATH; and the
  runners' uv caches (setup-uv's `enable-cache`, GitLab's `cache:` of
  `.uv-cache`) are this machine's warm uv cache, which every replay shares.
- actions/upload-artifact checks that its paths exist, per `if-no-files-found`.
- Docker steps and jobs are skipped: there is no engine here, and the
  Dockerfile's RUN steps are exercised with uv by the level-3 tests.
- `OUTSIDE_WORLD` lists the commands that need a service out of reach, and
  what runs instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPOSITORY = "team/churn-model"
BRANCH = "main"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# This machine's way out to the package index (its CA bundle, any proxy): a
# runner has its own, so they are the only settings the replay takes from here.
NETWORK_VARIABLES = (
    "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
    "http_proxy", "https_proxy", "no_proxy",
)  # fmt: skip
# The files a runner gives each step, read back after it.
STEP_FILES = ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH")
GITHUB_SHELL = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
# GitLab Runner's bash executor runs a job's script with errexit and pipefail.
GITLAB_SHELL = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]

# Commands that reach a service out of reach here, each with what runs instead
# and why. They are rewritten in the job's script, and the job's notes say so.
OUTSIDE_WORLD: list[tuple[re.Pattern[str], str, str]] = [
    (
        re.compile(r"(uvx pip-audit@\S+)"),
        r"\1 --dry-run",
        "pip-audit ran with --dry-run: PyPI's advisory JSON answers 404 from this"
        " machine; the dry run still installs pip-audit and reads every pinned"
        " requirement, hashes included",
    ),
    (
        re.compile(r"^(\s*)uv cache prune --ci\s*$", re.MULTILINE),
        r"\1: uv cache prune --ci",
        "`uv cache prune --ci` skipped: it trims a runner's private cache before"
        " upload, and the replay's cache is this machine's shared one",
    ),
]
# `gh` talks to GitHub's API, which is out of reach: the replay's `gh` records
# its arguments in $REPLAY_GH_CALLS and succeeds, so a dispatch shows in the
# job's notes. Webhooks (ALERT_WEBHOOK_URL, PRODUCTION_DEPLOY_HOOK) are posted
# with the real curl: unset, the jobs take their documented no-webhook branch;
# set them to a URL served on loopback to see the posts.
GH_SHIM = """#!/bin/sh
printf '%s\\n' "gh $*" >> "$REPLAY_GH_CALLS"
echo "replay: gh $* (recorded, not sent: GitHub's API is out of reach)"
"""


@dataclass
class Job:
    """One replayed job: where it came from, how it ended, and its log."""

    workflow: str
    name: str
    outcome: str  # success, failure, skipped, or warning (GitLab's allowed failure)
    seconds: float = 0.0
    log: str = ""
    notes: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.workflow}:{self.name} {self.outcome} in {self.seconds:.1f} s"


class Runner:
    """A simulated fresh runner: a folder for each job's clone, HOME and temp files."""

    def __init__(
        self,
        project: Path,
        root: Path,
        secrets: Mapping[str, str] | None = None,
        uv_cache: Path | None = None,
    ):
        self.project = project
        self.root = root
        self.secrets = dict(secrets or {})
        # This machine's warm cache unless told otherwise (an empty folder: a cold one).
        self.uv_cache = str(uv_cache or _host_output("uv", "cache", "dir"))
        self.sha = _host_output("git", "-C", str(project), "rev-parse", "HEAD")
        self.python_version = (project / ".python-version").read_text().strip()
        self.bin = root / "bin"
        self._jobs = 0
        self._tools()

    def _tools(self) -> None:
        """uv, the runner image's `python`, and the `gh` recorder: nothing else."""
        self.bin.mkdir(parents=True, exist_ok=True)
        # The uv on this PATH may be a pyenv shim, which needs the real HOME.
        uv = Path(_host_output("sh", "-c", "pyenv which uv 2>/dev/null || command -v uv")).resolve()
        (self.bin / "uv").symlink_to(uv)
        (self.bin / "uvx").symlink_to(uv.with_name("uvx"))
        python = _host_output("uv", "python", "find", "--system", self.python_version)
        (self.bin / "python").symlink_to(python)
        gh = self.bin / "gh"
        gh.write_text(GH_SHIM)
        gh.chmod(0o755)

    def new_job(self) -> tuple[Path, dict[str, str]]:
        """A fresh clone and the base environment of a runner that has just started."""
        self._jobs += 1
        job_root = self.root / f"job-{self._jobs}"
        home = job_root / "home"
        home.mkdir(parents=True)
        clone = job_root / "work" / self.project.name
        subprocess.run(
            ["git", "clone", "--quiet", str(self.project), str(clone)],
            check=True,
            env={"PATH": SYSTEM_PATH, "HOME": str(home)},
        )
        env = {
            "PATH": f"{self.bin}:{SYSTEM_PATH}",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "USER": "runner",
            "TMPDIR": str(_mkdir(job_root / "tmp")),
            "CI": "true",
            # The local equivalent of the runners' restored uv cache.
            "UV_CACHE_DIR": self.uv_cache,
            "REPLAY_GH_CALLS": str(job_root / "gh-calls"),
        }
        env |= {name: os.environ[name] for name in NETWORK_VARIABLES if name in os.environ}
        return clone, env


def replay(
    project: Path,
    root: Path,
    secrets: Mapping[str, str] | None = None,
    uv_cache: Path | None = None,
    only: Collection[str] | None = None,
) -> list[Job]:
    """Replay every job of every workflow the project has, GitHub's or GitLab's.

    `secrets` are the repository's secrets (GitHub) or CI/CD variables
    (GitLab), e.g. the team stack's MLFLOW_TRACKING_URI and PREDICTION_LOG_URL;
    `root` gets a folder per job, with its clone, HOME and temporary files.
    `only` limits the replay to these workflow files (GitHub: "cd.yml") or
    pipelines (GitLab: "push", or a schedule's MLOPS_TASK such as "monitor").
    """
    runner = Runner(project, root, secrets, uv_cache)
    if (project / ".gitlab-ci.yml").exists():
        return replay_gitlab(runner, only)
    return replay_github(runner, only)


def summary(jobs: list[Job]) -> str:
    return "\n".join(str(job) for job in jobs)


# --- GitHub Actions --------------------------------------------------------------------------


def replay_github(runner: Runner, only: Collection[str] | None = None) -> list[Job]:
    """Every job of every workflow in .github/workflows (or `only` those), in dependency order."""
    jobs: list[Job] = []
    for path in sorted((runner.project / ".github" / "workflows").glob("*.yml")):
        if only is not None and path.name not in only:
            continue
        workflow = yaml.safe_load(path.read_text())
        event, inputs = _github_event(workflow)
        github = {
            "workflow": workflow.get("name", path.name),
            "event_name": event,
            "ref": f"refs/heads/{BRANCH}",
            "ref_name": BRANCH,
            "sha": runner.sha,
            "repository": REPOSITORY,
            "repository_owner": REPOSITORY.split("/")[0],
            "server_url": "https://github.com",
            "run_id": "1",
            "actor": "replay",
            "token": "replay-github-token",
        }
        # GITHUB_TOKEN is always set on a runner; every other secret is the caller's.
        secrets = {"GITHUB_TOKEN": github["token"], **runner.secrets}
        needs: dict[str, dict] = {}
        for name in _in_needs_order(workflow["jobs"]):
            spec = workflow["jobs"][name]
            context = {
                "github": github,
                "secrets": _Defaulting(secrets),
                "inputs": inputs,
                "needs": {n: needs[n] for n in _as_list(spec.get("needs"))},
            }
            job = _github_job(runner, path.name, name, workflow, spec, context)
            needs[name] = {"result": job.outcome, "outputs": job.outputs}
            jobs.append(job)
            print(job, flush=True)
    return jobs


def _github_event(workflow: dict) -> tuple[str, dict[str, str]]:
    """The event a workflow is replayed on: a push if it has one, else a dispatch."""
    # PyYAML reads the key `on` as True.
    triggers = workflow.get("on", workflow.get(True))
    if "push" in triggers:
        return "push", {}
    if "workflow_dispatch" in triggers:
        declared = (triggers["workflow_dispatch"] or {}).get("inputs") or {}
        return "workflow_dispatch", {
            name: "replayed on a fresh runner"
            for name in declared
            if declared[name].get("required")
        }
    return "schedule", {}


def _github_job(
    runner: Runner, workflow_file: str, name: str, workflow: dict, spec: dict, context: dict
) -> Job:
    job = Job(workflow_file, name, "skipped")
    needs_ok = all(n["result"] == "success" for n in context["needs"].values())
    if not _evaluate_if(spec.get("if"), context, success=needs_ok):
        return job
    started = time.monotonic()
    clone, env = runner.new_job()
    temp = _mkdir(clone.parent.parent / "runner-temp")
    env |= {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKFLOW": context["github"]["workflow"],
        "GITHUB_EVENT_NAME": context["github"]["event_name"],
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_REF": context["github"]["ref"],
        "GITHUB_REF_NAME": BRANCH,
        "GITHUB_SHA": runner.sha,
        "GITHUB_WORKSPACE": str(clone),
        "GITHUB_SERVER_URL": context["github"]["server_url"],
        "GITHUB_RUN_ID": context["github"]["run_id"],
        "GITHUB_JOB": name,
        "RUNNER_OS": "Linux",
        "RUNNER_TEMP": str(temp),
        "GITHUB_STEP_SUMMARY": str(temp / "step-summary.md"),
    }
    steps: dict[str, dict] = {}
    context = {**context, "steps": steps}
    env |= _expand_env(workflow.get("env"), context) | _expand_env(spec.get("env"), context)
    failed = False
    log: list[str] = []
    for index, step in enumerate(spec["steps"]):
        label = step.get("name") or step.get("uses") or step.get("run", "").splitlines()[0]
        if not _evaluate_if(step.get("if"), context, success=not failed):
            log.append(f"--- {label}: skipped")
            continue
        files = {name: temp / f"{name.lower()}-{index}" for name in STEP_FILES}
        for path in files.values():
            path.touch()
        step_env = env | _expand_env(step.get("env"), context)
        step_env |= {name: str(path) for name, path in files.items()}
        if "uses" in step:
            ok, text = _github_action(step, clone, job.notes)
        else:
            script = _outside_world(_expand(step["run"], context), job.notes)
            script_file = temp / f"step-{index}.sh"
            script_file.write_text(script)
            code, text = _run([*GITHUB_SHELL, str(script_file)], clone, step_env, spec)
            ok = code == 0
        log.append(f"--- {label}: {'success' if ok else 'failure'}\n{text}")
        failed = failed or not ok
        # What a step adds to $GITHUB_ENV and $GITHUB_PATH holds for the steps after it.
        env |= _read_outputs(files["GITHUB_ENV"])
        for folder in files["GITHUB_PATH"].read_text().splitlines():
            env["PATH"] = f"{folder}:{env['PATH']}"
        if "id" in step:
            outcome = "success" if ok else "failure"
            steps[step["id"]] = {
                "outputs": _read_outputs(files["GITHUB_OUTPUT"]),
                "outcome": outcome,
                "conclusion": outcome,
            }
    job.outputs = {
        key: _expand(str(value), context) for key, value in (spec.get("outputs") or {}).items()
    }
    job.outcome = "failure" if failed else "success"
    job.log = "\n".join(log)
    job.seconds = time.monotonic() - started
    job.notes.extend(_gh_calls(env))
    return job


def _github_action(step: dict, clone: Path, notes: list[str]) -> tuple[bool, str]:
    """The local equivalent of a `uses:` step, or an error for an action not taught here."""
    action = step["uses"].split("@")[0]
    inputs = step.get("with") or {}
    if action == "actions/checkout":
        return True, "the clone is the checkout"
    if action == "astral-sh/setup-uv":
        have = _host_output("uv", "--version").split()[1]
        if str(inputs.get("version", have)) != have:
            notes.append(f"setup-uv pins uv {inputs['version']}; the replay has uv {have}")
        return True, f"uv {have} is on PATH, with the shared uv cache"
    if action == "actions/upload-artifact":
        paths = [p for p in str(inputs["path"]).splitlines() if p.strip()]
        missing = [p for p in paths if not list(clone.glob(p.strip().rstrip("/")))]
        rule = inputs.get("if-no-files-found", "warn")
        if missing and rule == "error":
            return False, f"::error::No files were found with the provided path: {missing}"
        if missing and rule == "warn":
            notes.append(f"artifact {inputs.get('name')}: no files at {missing} (a warning)")
        return True, f"artifact {inputs.get('name')}: {len(paths) - len(missing)} path(s) found"
    if action.startswith("docker/"):
        notes.append(f"{action} skipped: no Docker engine here")
        return True, "skipped: no Docker engine"
    raise NotImplementedError(f"The replay has no local equivalent of {step['uses']}")


def _in_needs_order(jobs: dict) -> list[str]:
    order: list[str] = []
    pending = list(jobs)
    while pending:
        ready = [j for j in pending if set(_as_list(jobs[j].get("needs"))) <= set(order)]
        if not ready:
            raise ValueError(f"jobs that need each other: {pending}")
        order.extend(ready)
        pending = [j for j in pending if j not in ready]
    return order


def _read_outputs(path: Path) -> dict[str, str]:
    """Parse a $GITHUB_OUTPUT or $GITHUB_ENV file (or a dotenv): `name=value` and `name<<EOF`."""
    outputs: dict[str, str] = {}
    lines = iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            for value in lines:
                if value == delimiter:
                    break
                block.append(value)
            outputs[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def _gh_calls(env: dict[str, str]) -> list[str]:
    calls = Path(env["REPLAY_GH_CALLS"])
    if not calls.exists():
        return []
    return [f"{call} (recorded, not sent)" for call in calls.read_text().splitlines()]


def _expand_env(env: dict | None, context: dict) -> dict[str, str]:
    return {key: _expand(str(value), context) for key, value in (env or {}).items()}


def _expand(text: str, context: dict) -> str:
    """Replace each ${{ expression }} by its value as a string."""
    return re.sub(
        r"\$\{\{(.*?)\}\}", lambda m: _as_string(_Expression(m.group(1), context).value()), text
    )


_STATUS_FUNCTIONS = ("success()", "failure()", "cancelled()", "always()")


def _evaluate_if(condition: object, context: dict, success: bool) -> bool:
    """A job's or step's `if:`, with GitHub's implicit `success() &&` if it checks no status."""
    if condition is None:
        return success
    if isinstance(condition, bool):
        return success and condition
    text = str(condition).strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    if not any(function in text.replace(" ", "") for function in _STATUS_FUNCTIONS):
        text = f"success() && ({text})"
    return _truthy(_Expression(text, {**context, "_success": success}).value())


class _Defaulting(dict):
    """A context whose missing keys are empty strings, as unset secrets are."""

    def __missing__(self, key: str) -> str:
        return ""


class _Expression:
    """GitHub's expression syntax, as far as the template uses it.

    Literals ('text', numbers, true, false, null), context paths (secrets.X,
    steps.id.outputs.name, needs.job.result...), the status functions, !, ==,
    !=, && and || with their precedence, and parentheses. Comparisons follow
    GitHub's rules: strings compare ignoring case, and values of different
    types compare as numbers, null as 0. A path that does not exist, such as
    a step output never written, is null; a job's outputs are strings, ''
    when their expression is empty.
    """

    TOKEN = re.compile(
        r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)"
        r"|(?P<op>&&|\|\||==|!=|!|\(|\))|(?P<name>[A-Za-z_][\w.\-*]*(?:\(\))?))"
    )

    def __init__(self, text: str, context: dict):
        self.tokens: list[tuple[str, str]] = []
        position, text = 0, text.strip()
        while position < len(text):
            match = self.TOKEN.match(text, position)
            if not match or match.end() == position:
                raise ValueError(f"Cannot read the expression {text!r} at {text[position:]!r}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.context = context
        self.position = 0

    def value(self) -> object:
        result = self._or()
        if self.position != len(self.tokens):
            raise ValueError(f"Unexpected {self.tokens[self.position]} in the expression")
        return result

    def _peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _or(self) -> object:
        return self._chain("||", self._and, lambda left, right: left if _truthy(left) else right)

    def _and(self) -> object:
        return self._chain(
            "&&", self._comparison, lambda left, right: right if _truthy(left) else left
        )

    def _chain(
        self, operator: str, operand: Callable[[], object], pick: Callable[[object, object], object]
    ) -> object:
        """Operands joined by `operator`, left to right; `pick` chooses each result, as JS does."""
        left = operand()
        while self._peek() == operator:
            self._take()
            left = pick(left, operand())
        return left

    def _comparison(self) -> object:
        left = self._unary()
        while self._peek() in ("==", "!="):
            operator = self._take()[1]
            equal = _equal(left, self._unary())
            left = equal if operator == "==" else not equal
        return left

    def _unary(self) -> object:
        if self._peek() == "!":
            self._take()
            return not _truthy(self._unary())
        if self._peek() == "(":
            self._take()
            inner = self._or()
            self._take()
            return inner
        kind, token = self._take()
        if kind == "string":
            return token[1:-1].replace("''", "'")
        if kind == "number":
            return float(token)
        return self._name(token)

    def _name(self, token: str) -> object:
        literals = {"true": True, "false": False, "null": None}
        if token in literals:
            return literals[token]
        functions: dict[str, Callable[[], bool]] = {
            # The replay never cancels a run.
            "cancelled()": lambda: False,
            "always()": lambda: True,
            "success()": lambda: self.context["_success"],
            "failure()": lambda: not self.context["_success"],
        }
        if token in functions:
            return functions[token]()
        value: object = self.context
        for part in token.split("."):
            if not isinstance(value, Mapping) or part not in value:
                if isinstance(value, _Defaulting):
                    return ""
                return None
            value = value[part]
        return value


def _truthy(value: object) -> bool:
    return value not in (None, False, "", 0, 0.0)


def _as_number(value: object) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, float):
        return value
    try:
        return float(str(value).strip() or 0)
    except ValueError:
        return float("nan")


def _equal(left: object, right: object) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if type(left) is type(right):
        return left == right
    return _as_number(left) == _as_number(right)


def _as_string(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return str(value)


# --- GitLab CI -------------------------------------------------------------------------------

_GITLAB_KEYWORDS = {
    "workflow", "stages", "default", "variables", "include", "image", "services",
    "cache", "before_script", "after_script",
}  # fmt: skip


def replay_gitlab(runner: Runner, only: Collection[str] | None = None) -> list[Job]:
    """A push to the default branch, then one pipeline for each MLOPS_TASK the rules name
    (or `only` those of them).

    A job that fails on the default branch (the promotion gate, without the
    team's registry) is replayed again in a merge request's pipeline, where it
    is CI's smoke run, so that its commands run on a fresh runner either way.
    """
    text = (runner.project / ".gitlab-ci.yml").read_text()
    tasks = sorted(set(re.findall(r'\$MLOPS_TASK == "(\w+)"', text)))
    if only is not None:
        tasks = [task for task in tasks if task in only]
    push = only is None or "push" in only
    jobs = _gitlab_pipeline(runner, yaml.safe_load(text), "push", {}) if push else []
    failed = {job.name for job in jobs if job.outcome == "failure"}
    if failed:
        # In a merge request's pipeline GitLab sets no CI_COMMIT_BRANCH.
        merge_request = {"CI_COMMIT_BRANCH": None, "CI_MERGE_REQUEST_IID": "1"}
        jobs += _gitlab_pipeline(
            runner, yaml.safe_load(text), "merge_request_event", merge_request, failed
        )
    for task in tasks:
        jobs += _gitlab_pipeline(runner, yaml.safe_load(text), "schedule", {"MLOPS_TASK": task})
    return jobs


def _gitlab_pipeline(
    runner: Runner,
    config: dict,
    source: str,
    extra: dict[str, str | None],
    only: set[str] | None = None,
) -> list[Job]:
    """One pipeline's jobs, in stage order; `only` limits it to these jobs."""
    label = extra.get("MLOPS_TASK") or source
    predefined = {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_PIPELINE_SOURCE": source,
        "CI_COMMIT_BRANCH": BRANCH,
        "CI_COMMIT_REF_NAME": BRANCH,
        "CI_DEFAULT_BRANCH": BRANCH,
        "CI_COMMIT_SHA": runner.sha,
        "CI_PROJECT_PATH": REPOSITORY,
        "CI_SERVER_URL": "https://gitlab.com",
        "CI_PIPELINE_ID": "1",
        "CI_REGISTRY": "registry.gitlab.com",
        "CI_REGISTRY_IMAGE": f"registry.gitlab.com/{REPOSITORY}",
        "CI_REGISTRY_USER": "gitlab-ci-token",
        "CI_REGISTRY_PASSWORD": "replay-registry-token",
        **runner.secrets,
        **extra,
    }
    predefined = {name: value for name, value in predefined.items() if value is not None}
    if _gitlab_rules(config.get("workflow", {}).get("rules"), predefined) is None:
        return []
    stages = config.get("stages", ["build", "test", "deploy"])
    specs = {
        name: _gitlab_resolve(config, name)
        for name in config
        if name not in _GITLAB_KEYWORDS and not name.startswith(".")
    }
    included = {}
    for name, spec in specs.items():
        when = _gitlab_rules(spec.get("rules"), predefined)
        if when is not None and when != "never" and (only is None or name in only):
            included[name] = (spec, when)
    done: dict[str, Job] = {}
    dotenv: dict[str, dict[str, str]] = {}
    ordered = sorted(included, key=lambda n: stages.index(included[n][0].get("stage", "test")))
    for name in ordered:
        spec, when = included[name]
        stage = stages.index(spec.get("stage", "test"))
        if "needs" in spec:
            needed = [n if isinstance(n, str) else n["job"] for n in spec["needs"]]
            upstream = [done[n] for n in needed if n in done]
        else:
            upstream = [j for n, j in done.items() if stages.index(included[n][0]["stage"]) < stage]
        job = Job(f".gitlab-ci.yml[{label}]", name, "skipped")
        if when == "always" or all(_gitlab_passed(j) for j in upstream):
            inherited = {k: v for j in upstream for k, v in dotenv.get(j.name, {}).items()}
            job, variables = _gitlab_job(runner, config, name, spec, predefined | inherited, job)
            if when == "manual":
                job.notes.append("a manual job: the replay runs it as if someone started it")
            dotenv[name] = variables
        done[name] = job
        print(job, flush=True)
    return list(done.values())


def _gitlab_passed(job: Job) -> bool:
    return job.outcome in ("success", "warning")


def _gitlab_resolve(config: dict, name: str) -> dict:
    """A job with its `extends` merged in (hashes deeply, other values replaced)."""
    spec = dict(config[name])
    merged: dict = {}
    for parent in _as_list(spec.pop("extends", [])):
        merged = _deep_merge(merged, _gitlab_resolve(config, parent))
    return _deep_merge(merged, spec)


def _deep_merge(base: dict, override: dict) -> dict:
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result


def _gitlab_rules(rules: list | None, variables: Mapping[str, str]) -> str | None:
    """The `when` of the first rule that matches, or None when none does."""
    if rules is None:
        return "on_success"
    for rule in rules:
        if "if" not in rule or _gitlab_condition(rule["if"], variables):
            return rule.get("when", "on_success")
    return None


def _gitlab_condition(condition: str, variables: Mapping[str, str]) -> bool:
    """GitLab's `rules: if:`, as far as the template uses it: $VAR, ==, !=, && and ||."""

    def operand(text: str) -> str | None:
        text = text.strip()
        if text.startswith("$"):
            return variables.get(text[1:])
        if text[:1] in "\"'":
            return text[1:-1]
        raise ValueError(f"Cannot read {text!r} in the rule {condition!r}")

    def term(text: str) -> bool:
        for operator in ("==", "!="):
            if operator in text:
                left, right = (operand(side) for side in text.split(operator))
                return (left == right) == (operator == "==")
        return bool(operand(text))

    return any(
        all(term(part) for part in alternative.split("&&")) for alternative in condition.split("||")
    )


def _gitlab_job(
    runner: Runner, config: dict, name: str, spec: dict, predefined: dict[str, str], job: Job
) -> tuple[Job, dict[str, str]]:
    image = str(spec.get("image", config.get("default", {}).get("image", "")))
    if image.startswith("docker:"):
        job.outcome = "success"
        job.notes.append(f"skipped: a Docker job ({image}) and no Docker engine here")
        return job, {}
    started = time.monotonic()
    clone, env = runner.new_job()
    variables = {**config.get("variables", {}), **spec.get("variables", {})}
    env |= {key: str(value) for key, value in variables.items()}
    env |= predefined | {
        "CI_PROJECT_DIR": str(clone),
        "CI_JOB_NAME": name,
        "CI_JOB_STAGE": spec.get("stage", "test"),
        "CI_JOB_URL": f"https://gitlab.com/{REPOSITORY}/-/jobs/1",
        # The local equivalent of restoring `cache: .uv-cache`.
        "UV_CACHE_DIR": runner.uv_cache,
    }
    if "UV_CACHE_DIR" in variables:
        job.notes.append("UV_CACHE_DIR is the shared warm uv cache, for the job's `cache:`")
    default = config.get("default", {})
    main = [*spec.get("before_script", default.get("before_script", [])), *spec["script"]]
    main_file = clone.parent.parent / "script.sh"
    main_file.write_text(_outside_world("\n".join(main), job.notes))
    returncode, text = _run([*GITLAB_SHELL, str(main_file)], clone, env, spec)
    ok = returncode == 0
    allowed = spec.get("allow_failure")
    warning = bool(allowed) and (allowed is True or returncode in allowed.get("exit_codes", []))
    if not ok and warning:
        job.notes.append(f"exit code {returncode}: allowed to fail, so a warning")
    status = "success" if ok else "failed"
    after = spec.get("after_script", default.get("after_script"))
    if after:
        after_file = clone.parent.parent / "after.sh"
        after_file.write_text(_outside_world("\n".join(after), job.notes))
        after_code, after_text = _run(
            [*GITLAB_SHELL, str(after_file)], clone, env | {"CI_JOB_STATUS": status}, spec
        )
        text += f"\n--- after_script: {'failure (ignored)' if after_code else 'success'}\n"
        text += after_text
    artifacts = spec.get("artifacts") or {}
    dotenv: dict[str, str] = {}
    if ok or artifacts.get("when") == "always":
        report = (artifacts.get("reports") or {}).get("dotenv")
        if report and (clone / report).exists():
            dotenv = _read_outputs(clone / report)
    job.outcome = "success" if ok else "warning" if warning else "failure"
    job.log = text
    job.seconds = time.monotonic() - started
    return job, dotenv


# --- Both ------------------------------------------------------------------------------------


def _outside_world(script: str, notes: list[str]) -> str:
    for pattern, replacement, reason in OUTSIDE_WORLD:
        script, count = pattern.subn(replacement, script)
        if count:
            notes.append(reason)
    return script


def _run(command: list[str], cwd: Path, env: dict[str, str], spec: dict) -> tuple[int, str]:
    """Run a script as the runner does, within the job's timeout."""
    minutes = spec.get("timeout-minutes") or _gitlab_minutes(spec.get("timeout")) or 60
    try:
        result = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=minutes * 60,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        return 124, f"{error.output or ''}\ntimed out after {minutes} minutes"
    if result.returncode:
        return result.returncode, f"{result.stdout}\nexit code {result.returncode}"
    return 0, result.stdout


def _gitlab_minutes(timeout: str | None) -> float | None:
    if not timeout:
        return None
    match = re.fullmatch(r"(\d+)([mh])", str(timeout).strip())
    if not match:
        raise ValueError(f"Cannot read the timeout {timeout!r}")
    return int(match.group(1)) * (60 if match.group(2) == "h" else 1)


def _as_list(value: object) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _host_output(*command: str) -> str:
    """Ask this machine (not the runner) for a path or a version."""
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()
