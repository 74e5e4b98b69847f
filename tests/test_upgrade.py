"""Tier 3: upgrades, one level at a time, with a user's edits made before every step.

The chain walks 0 -> 1 -> ... -> 4 for every CI provider, with the CLI and
with plain `copier update`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_levels import template_source
from mlops_levels.cli import main
from mlops_levels.git import commit as git_commit
from mlops_levels.steps import ABANDON
from mlops_levels.template_source import cache_url, prepare
from tests.helpers import (
    LADDER,
    LEVELS,
    REPO,
    commit_all,
    copier_update,
    first_level,
    git,
    run,
    run_at_a_terminal,
    template_snapshot,
)

pytestmark = pytest.mark.slow

CONFIG = yaml.safe_load((REPO / "copier.yml").read_text(encoding="utf-8"))
PROJECT_NAME = "Churn Model"
PACKAGE = "churn_model"
MARKER = re.compile(r"^(<<<<<<< before updating|>>>>>>> after updating)$", re.MULTILINE)
REFUSED, CONFLICT = 3, 5


def ci_providers() -> tuple[list[str], int]:
    """The `ci_provider` choices, and the level that first asks for one."""
    spec = CONFIG["ci_provider"]
    choices = spec["choices"]
    values = list(choices.values()) if isinstance(choices, dict) else list(choices)
    return values, first_level("ci_provider")


PROVIDERS, CI_FROM = ci_providers()


# --- The user's edits ------------------------------------------------------------------

# A dependency per level, each already in the project's dependency tree, so that
# installing the upgraded project needs nothing new.
DEPENDENCY = {0: "joblib>=1.2", 1: "requests>=2.28", 2: "threadpoolctl>=3.1", 3: "pillow>=10"}
DESCRIPTION = "Predicts which retail customers will leave next quarter, for the retention team."
NOTEBOOK = {
    "cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Our own analysis\n"]}],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 4,
}
MODULE = '''"""Our own features: the ratios the retention team asked for."""


def spend_per_visit(spend: float, visits: int) -> float:
    return spend / visits if visits else 0.0
'''
DEFAULT_MODEL = "LogisticRegression(**hyperparameters)"
OUR_MODEL = 'LogisticRegression(class_weight="balanced", **hyperparameters)'
# params.yaml lines the user changes, and at which level: (level, old line, new line).
PARAMS = [
    (0, "  C: 1.0", "  C: 0.5"),
    (0, "  test_size: 0.2", "  test_size: 0.25"),
    (1, "  seed: 42", "  seed: 7"),
    (2, "  max_iter: 1000", "  max_iter: 2000"),
    (3, "  margin: 0.002", "  margin: 0.005"),
]
EXPECTED_PARAMS = {
    "  C: 0.5": ("model", "C", 0.5),
    "  test_size: 0.25": ("split", "test_size", 0.25),
    "  seed: 7": ("split", "seed", 7),
    "  max_iter: 2000": ("model", "max_iter", 2000),
    "  margin: 0.005": ("registry", "margin", 0.005),
}
# A cell of the team's own, appended to the level-0 training notebook.
OUR_CELL = {
    "cell_type": "code",
    "execution_count": None,
    "id": "our-report",
    "metadata": {},
    "outputs": [],
    "source": ["print(f\"F1 for the retention team: {metrics['f1']:.3f}\")"],
}
# The level-0 notebooks as the team commits them: one run with its outputs, one with a cell.
OUR_NOTEBOOKS = ("notebooks/01-explore.ipynb", "notebooks/02-train.ipynb")


def replace_line(path: Path, old: str, new: str) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines.count(old) == 1, f"{path.name}: expected one line {old!r}"
    lines[lines.index(old)] = new
    path.write_text("\n".join(lines), encoding="utf-8")


def add_dependency(pyproject: Path, requirement: str) -> None:
    """Add a dependency where `uv add` puts it: the last line of the list."""
    lines = pyproject.read_text(encoding="utf-8").split("\n")
    start = lines.index("dependencies = [")
    end = lines.index("]", start)
    lines.insert(end, f'    "{requirement}",')
    pyproject.write_text("\n".join(lines), encoding="utf-8")


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(text)


def store_outputs(notebook: Path) -> None:
    """What Jupyter saves after a run: each code cell's count and a long output."""
    content = json.loads(notebook.read_text(encoding="utf-8"))
    code = [cell for cell in content["cells"] if cell["cell_type"] == "code"]
    for count, cell in enumerate(code, start=1):
        cell["execution_count"] = count
        text = [f"cell {count}, line {line}\n" for line in range(200)]
        cell["outputs"] = [{"name": "stdout", "output_type": "stream", "text": text}]
    notebook.write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")


def add_cell(notebook: Path, cell: dict[str, Any]) -> None:
    content = json.loads(notebook.read_text(encoding="utf-8"))
    content["cells"].append(cell)
    notebook.write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")


def our_stage(level: int) -> str:
    """A stage of the team's own, appended at the end of dvc.yaml's `stages:`."""
    return (
        f"\n  our_copy_{level}:\n"
        "    # The retention team's copy of the sample, for its own report.\n"
        f"    cmd: python -m {PACKAGE} sample data/raw/our_copy_{level}.csv\n"
        f"    outs:\n      - data/raw/our_copy_{level}.csv\n"
    )


def make_edits(project: Path, level: int) -> None:
    """What a team does to its project while at `level`, committed."""
    readme = project / "README.md"
    if level == 0:
        description = CONFIG["description"]["default"]
        replace_line(readme, description, DESCRIPTION)
        store_outputs(project / OUR_NOTEBOOKS[0])
        add_cell(project / OUR_NOTEBOOKS[1], OUR_CELL)
    if (project / "dvc.yaml").is_file():
        append(project / "dvc.yaml", our_stage(level))
    append(readme, f"\n## Team notes (level {level})\n\nThe weekly list goes to retention.\n")
    add_dependency(project / "pyproject.toml", DEPENDENCY[level])
    notebook = project / "notebooks" / f"{10 + level}-our-analysis.ipynb"
    notebook.write_text(json.dumps(NOTEBOOK, indent=1) + "\n", encoding="utf-8")
    for made_at, old, new in PARAMS:
        if made_at == level:
            replace_line(project / "params.yaml", old, new)
    append(project / ".gitignore", f"\n# Team scratch space (level {level})\n/scratch-{level}/\n")
    if level >= 1:
        (project / "src" / PACKAGE / f"our_features_{level}.py").write_text(MODULE)
    if level == 1:
        train = project / "src" / PACKAGE / "train.py"
        train.write_text(train.read_text().replace(DEFAULT_MODEL, OUR_MODEL))
    commit(project, f"Our edits at level {level}")


def assert_edits_kept(project: Path, made_up_to: int) -> None:
    """Every edit made at levels 0 to `made_up_to` is still there, byte for byte where whole."""
    readme = (project / "README.md").read_text()
    assert DESCRIPTION in readme
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    params = yaml.safe_load((project / "params.yaml").read_text())
    ignored = (project / ".gitignore").read_text().splitlines()
    for level in range(made_up_to + 1):
        assert f"## Team notes (level {level})" in readme
        assert DEPENDENCY[level] in pyproject["project"]["dependencies"]
        notebook = project / "notebooks" / f"{10 + level}-our-analysis.ipynb"
        assert json.loads(notebook.read_text()) == NOTEBOOK
        assert f"/scratch-{level}/" in ignored
        if level >= 1:
            assert (project / "src" / PACKAGE / f"our_features_{level}.py").read_text() == MODULE
    for made_at, _, new in PARAMS:
        if made_at <= made_up_to:
            section, key, value = EXPECTED_PARAMS[new]
            assert params[section][key] == value, f"params.yaml {section}.{key}"
    explore = json.loads((project / OUR_NOTEBOOKS[0]).read_text())
    code = [cell for cell in explore["cells"] if cell["cell_type"] == "code"]
    assert code and all(len(cell["outputs"][0]["text"]) == 200 for cell in code)
    assert json.loads((project / OUR_NOTEBOOKS[1]).read_text())["cells"][-1] == OUR_CELL
    if made_up_to >= 2:
        stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
        ours = [name for name in stages if name.startswith("our_copy_")]
        assert ours == [f"our_copy_{level}" for level in range(2, made_up_to + 1)]
    if made_up_to >= 1:
        assert OUR_MODEL in (project / "src" / PACKAGE / "train.py").read_text()


EDITED = {
    "README.md",
    "pyproject.toml",
    "params.yaml",
    ".gitignore",
    f"src/{PACKAGE}/train.py",
    "dvc.yaml",
    *OUR_NOTEBOOKS,
}
# uv.lock follows pyproject.toml, which the user edited: it locks their dependency too.
DERIVED = {"uv.lock"}


def assert_matches_a_fresh_project(project: Path, level: int, tmp_path: Path, data: list[str]):
    """Each file of a project generated at `level` is there; those the user left alone are
    byte for byte what a fresh project has."""
    fresh = tmp_path / f"fresh-{level}" / project.name
    answers = [arg for pair in data for arg in ("--data", pair)]
    assert main(["new", str(fresh), "--level", str(level), "--defaults", *answers]) == 0
    for path in sorted(fresh.rglob("*")):
        name = path.relative_to(fresh).as_posix()
        if path.is_dir() or name.startswith(".git/"):
            continue
        assert (project / name).is_file(), f"level {level} should have {name}"
        if name not in EDITED | DERIVED:
            assert (project / name).read_bytes() == path.read_bytes(), f"{name} differs"


# --- Helpers ---------------------------------------------------------------------------


def commit(project: Path, message: str) -> None:
    """Commit everything, as a user of the project."""
    git_commit(project, message, identity=("Us", "us@example.org"))


def state(project: Path) -> dict[str, Any]:
    """All an upgrade could change: every file's bytes, ignored ones too, and git's view."""
    files = {
        path.relative_to(project).as_posix(): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file() and path.relative_to(project).parts[0] != ".git"
    }
    if not (project / ".git").is_dir():
        return {"files": files}
    return {
        "files": files,
        "head": git(project, "rev-parse", "HEAD"),
        "index": git(project, "ls-files", "--stage"),
        "status": git(project, "status", "--porcelain", "--ignored", "--untracked-files=all"),
        "refs": git(project, "for-each-ref"),
    }


def assert_nothing_lost(before: dict[str, Any], project: Path) -> None:
    """Every file is back, byte for byte, with git's state; any new file is one git ignores."""
    after = state(project)
    for key in ("head", "index", "refs"):
        assert after[key] == before[key], key
    assert git(project, "status", "--porcelain") == ""
    for name, content in before["files"].items():
        assert after["files"].get(name) == content, name
    for name in after["files"].keys() - before["files"].keys():
        assert git(project, "check-ignore", "-q", name) == ""  # raises unless ignored


def conflict_markers(project: Path) -> list[str]:
    """Tracked or untracked files holding Copier's conflict markers."""
    # An unmerged file is listed once per stage.
    names = set(git(project, "ls-files", "--cached", "--others", "--exclude-standard").split("\n"))
    return [
        name
        for name in sorted(names - {""})
        if (project / name).is_file() and MARKER.search((project / name).read_text(errors="ignore"))
    ]


def add_user_data(project: Path) -> None:
    """Files git ignores that an upgrade must never touch: the user's data and MLflow store."""
    (project / "data" / "raw" / "customers.csv").write_text("id,spend\n1,10.5\n")
    (project / "mlflow.db").write_bytes(b"SQLite format 3\0 (the team's runs)")


def upgrade(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["upgrade", *args])
    out, err = capsys.readouterr()
    return code, out, err


def plain_copier_update(project: Path, level: int, data: list[str]) -> None:
    result = copier_update(project, level, *data)
    assert result.returncode == 0, result.stderr
    commit(project, f"Upgrade to level {level}")


def new_project(tmp_path: Path, level: int = 0, name: str = "churn-model") -> Path:
    project = tmp_path / name
    assert main(["new", str(project), "--level", str(level), "--defaults"]) == 0
    return project


@pytest.fixture(scope="module", autouse=True)
def _template_from_the_snapshot() -> Iterator[Path]:
    """The template as it is when the tier starts, for the CLI to tag and generate from: the
    working tree may change while the tier runs, and a project must upgrade from the
    template version it was generated with."""
    snapshot = template_snapshot()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(template_source, "template_root", lambda: snapshot)
        yield snapshot


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Iterator[dict[int, Path]]:
    """A committed project at levels 0 and 1, made once; tests work on copies."""
    root = tmp_path_factory.mktemp("made")
    yield {level: new_project(root / str(level), level) for level in (0, 1)}


@pytest.fixture
def project_at(made, tmp_path):
    def copy(level: int) -> Path:
        project = tmp_path / "churn-model"
        shutil.copytree(made[level], project, symlinks=True)
        return project

    return copy


# --- The chain -------------------------------------------------------------------------

STEPS = [(level, level + 1) for level in LEVELS[:-1]]


@pytest.fixture(scope="module")
def project_environment(tmp_path_factory) -> Path:
    """The virtual environment the chains' projects share to run their own tests."""
    return tmp_path_factory.mktemp("project-environment") / ".venv"


CHAINS = [("cli", provider) for provider in PROVIDERS] + [("copier", PROVIDERS[0])]


@pytest.mark.parametrize(
    ("tool", "provider"), CHAINS, ids=[f"{tool}-{provider}" for tool, provider in CHAINS]
)
def test_chain_keeps_every_edit_at_every_step(
    tmp_path, capsys, monkeypatch, project_environment, tool, provider
):
    # Every chain installs into one environment, so each install adds only what changed.
    monkeypatch.setenv("UV_PROJECT_ENVIRONMENT", str(project_environment))
    project = new_project(tmp_path / "chain")
    add_user_data(project)
    data_files = {n: (project / n).read_bytes() for n in ("mlflow.db", "data/raw/customers.csv")}
    timings = {}
    for current, target in STEPS:
        make_edits(project, current)
        if current == 0:
            notebooks = {name: (project / name).read_bytes() for name in OUR_NOTEBOOKS}
        data = [f"ci_provider={provider}"] if target >= CI_FROM else []
        answers = [arg for pair in data for arg in ("--data", pair)]
        began = time.perf_counter()
        if tool == "cli":
            code, out, err = upgrade(capsys, str(project), "--yes", *answers)
            assert code == 0, err
            name = LADDER[target]["name"]
            assert f"Step 1 of 1: level {target} ({name})" in err
            assert f"Level {target} added:" in out
            if target + 1 < len(LADDER):
                assert all(c["id"] in out for c in LADDER[target + 1]["criteria"])
            message = f"Upgrade to level {target} ({name})"
            assert git(project, "log", "-1", "--format=%s").strip() == message
        else:
            plain_copier_update(project, target, data)
        timings[f"{current}->{target}"] = time.perf_counter() - began

        recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
        assert recorded["level"] == target
        if data:
            assert recorded["ci_provider"] == provider
        assert git(project, "status", "--porcelain") == ""
        assert conflict_markers(project) == []
        assert list(project.rglob("*.rej")) == []
        assert_edits_kept(project, made_up_to=current)
        assert_matches_a_fresh_project(project, target, tmp_path, data)
        assert {name: (project / name).read_bytes() for name in data_files} == data_files
        assert {name: (project / name).read_bytes() for name in OUR_NOTEBOOKS} == notebooks
        if tool == "cli" and (project / "tests").is_dir():
            run(project, "uv", "sync", "--compile-bytecode", "--quiet")
            run(project, "uv", "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider")
    print(f"upgrade step wall times ({tool}, {provider}):", timings)


# --- Conflicts ---------------------------------------------------------------------------


def conflicting_edit(project: Path) -> None:
    """A dependency added right where level 1 inserts its own: above the anchor comment."""
    replace_line(
        project / "pyproject.toml", '    "pyyaml>=6.0",', '    "pyyaml>=6.0",\n    "polars>=1.0",'
    )
    commit(project, "polars, above the line")


def test_step_commits_a_refreshed_lock_and_says_how_to_lock_when_it_cannot(
    project_at, capsys, monkeypatch
):
    project = project_at(0)
    before = (project / "uv.lock").read_bytes()

    assert upgrade(capsys, str(project), "--yes")[0] == 0
    assert "uv.lock" in git(project, "show", "--name-only", "--format=", "HEAD").split()
    assert (project / "uv.lock").read_bytes() != before, "level 1's MLflow is locked"

    # No cache and a closed port as the only index: the next step cannot lock.
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("UV_NO_CACHE", "1")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    code, _, err = upgrade(capsys, str(project), "--yes")

    assert code == 0, err
    assert git(project, "log", "-1", "--format=%s") == "Upgrade to level 2 (Automated)\n"
    assert git(project, "status", "--porcelain") == ""
    assert "warning: uv.lock is not refreshed: `uv lock` exited" in err
    assert 'uv lock && git add uv.lock && git commit -m "Lock the dependencies"' in err


def test_conflicting_edit_stops_with_markers_the_files_and_what_to_do(project_at, capsys):
    project = project_at(0)
    conflicting_edit(project)
    head = git(project, "rev-parse", "HEAD")

    code, _, err = upgrade(capsys, str(project), "--to", "2", "--yes")

    assert code == CONFLICT
    assert "conflict with yours in 1 file:\n  pyproject.toml\n" in err
    assert 'uv lock && git add -A && git commit -m "Upgrade to level 1 (Tracked)"' in err
    assert "Then continue with `mlops-levels upgrade --to 2`" in err
    assert f"\n  {ABANDON}" in err
    assert ABANDON == "git reset --hard && git clean -fd"
    text = (project / "pyproject.toml").read_text()
    assert "<<<<<<< before updating" in text and ">>>>>>> after updating" in text
    assert '"polars>=1.0"' in text and '"mlflow>=3.17,<4"' in text
    assert conflict_markers(project) == ["pyproject.toml"]
    assert git(project, "diff", "--name-only", "--diff-filter=U") == "pyproject.toml\n"
    assert list(project.rglob("*.rej")) == []
    assert git(project, "rev-parse", "HEAD") == head  # stopped at the first step, uncommitted
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["level"] == 1


def test_abandoning_a_conflicted_step_as_advised_restores_the_project(project_at, capsys):
    project = project_at(0)
    conflicting_edit(project)
    add_user_data(project)
    before = state(project)

    assert upgrade(capsys, str(project), "--yes")[0] == CONFLICT
    subprocess.run(ABANDON, shell=True, cwd=project, check=True, capture_output=True)

    assert_nothing_lost(before, project)


def test_resolving_a_conflicted_step_as_advised_finishes_it(project_at, capsys):
    project = project_at(0)
    conflicting_edit(project)
    assert upgrade(capsys, str(project), "--yes")[0] == CONFLICT

    pyproject = project / "pyproject.toml"
    kept = [line for line in pyproject.read_text().split("\n") if not re.match(r"[<=>]{7}", line)]
    pyproject.write_text("\n".join(kept))
    git(project, "add", "-A")
    git(project, "-c", "user.name=Us", "-c", "user.email=us@example.org", "commit", "-qm", "L1")

    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    assert "polars>=1.0" in dependencies and "mlflow>=3.17,<4" in dependencies
    assert git(project, "status", "--porcelain") == ""
    assert upgrade(capsys, str(project), "--dry-run")[0] == 0  # the next step starts from here


# --- Walking several steps ------------------------------------------------------------------


def test_upgrade_never_overwrites_the_sample_data_the_user_changed(project_at, capsys):
    """The sample is gitignored, so git could neither merge nor restore it."""
    project = project_at(0)
    sample = project / "data" / "raw" / "breast_cancer.csv"
    append(sample, "our,own,row\n")
    changed = sample.read_bytes()

    assert upgrade(capsys, str(project), "--yes")[0] == 0

    assert sample.read_bytes() == changed


def test_to_walks_one_commit_per_level(project_at, capsys):
    project = project_at(0)

    code, _, err = upgrade(capsys, str(project), "--to", "2", "--yes")

    assert code == 0, err
    assert "Step 1 of 2: level 1 (Tracked)" in err and "Step 2 of 2: level 2 (Automated)" in err
    assert git(project, "log", "-3", "--format=%s").splitlines() == [
        "Upgrade to level 2 (Automated)",
        "Upgrade to level 1 (Tracked)",
        "Start at level 0 (Manual) with mlops-levels",
    ]
    assert git(project, "status", "--porcelain") == ""
    assert upgrade(capsys, str(project), "--to", "2")[:2] == (
        0,
        f"{project} is already at level 2 - Automated: {LADDER[2]['summary']}\n",
    )


# --- At a terminal ---------------------------------------------------------------------------


def upgrade_at_a_terminal(project: Path, keys: list[tuple[str, bytes]], *args: str) -> str:
    """Run `upgrade` at a terminal, typing each key once its prompt shows; what it printed."""
    result = run_at_a_terminal("upgrade", str(project), *args, keys=keys)
    assert result.code == 0, result.text
    return result.text


def test_at_a_terminal_it_confirms_and_asks_only_the_new_question(tmp_path):
    project = new_project(tmp_path, CI_FROM - 1)
    ci, orchestrator = CONFIG["ci_provider"]["help"], CONFIG["orchestrator"]["help"]
    second = PROVIDERS[1]

    upgrade_at_a_terminal(
        project, [("(Y/n)", b"\r"), (ci, b"\x1b[B\r"), (orchestrator, b"\r")]
    )

    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["level"], answers["ci_provider"]) == (CI_FROM, second)
    assert answers["orchestrator"] == CONFIG["orchestrator"]["default"]
    assert git(project, "status", "--porcelain") == ""


def test_yes_at_a_terminal_asks_nothing_and_takes_the_defaults(tmp_path):
    project = new_project(tmp_path, CI_FROM - 1)

    text = upgrade_at_a_terminal(project, [], "--yes")

    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["ci_provider"] == CONFIG["ci_provider"]["default"]
    assert CONFIG["ci_provider"]["help"] not in text


# --- Refusals: each changes nothing ------------------------------------------------------------


def _dirty(project: Path) -> None:
    append(project / "README.md", "\nHalf-written note.\n")


def _untracked(project: Path) -> None:
    (project / "notes.txt").write_text("todo\n")


def _not_git(project: Path) -> None:
    shutil.rmtree(project / ".git")


def _answers(text: str):
    def write(project: Path) -> None:
        (project / ".copier-answers.yml").write_text(text)
        commit(project, "answers")

    return write


def _no_answers(project: Path) -> None:
    git(project, "rm", "-q", ".copier-answers.yml")
    commit(project, "no answers")


def _recorded(key: str, value: Any):
    def write(project: Path) -> None:
        path = project / ".copier-answers.yml"
        answers = yaml.safe_load(path.read_text())
        path.write_text(yaml.safe_dump({**answers, key: value}))
        commit(project, f"{key} changed")

    return write


REFUSALS = {
    "dirty-tree": (0, _dirty, [], REFUSED, " M README.md"),
    "untracked-file": (0, _untracked, [], REFUSED, "?? notes.txt"),
    "not-git": (0, _not_git, [], REFUSED, "is not a git repository"),
    "no-answers": (0, _no_answers, [], REFUSED, "has no .copier-answers.yml"),
    "answers-not-yaml": (0, _answers("level: [1\n"), [], REFUSED, "is corrupt"),
    "answers-not-mapping": (0, _answers("- level\n- 1\n"), [], REFUSED, "not a mapping"),
    "answers-unknown-level": (
        0,
        _recorded("level", 5),
        [],
        REFUSED,
        "records level 5, and the levels are 0 to 4",
    ),
    "downgrade": (1, None, ["--to", "0"], REFUSED, "downgrades are not supported"),
    "unknown-target": (0, None, ["--to", "5"], 2, "level 5 does not exist: choose 0 to 4."),
    "level-as-data": (0, None, ["--data", "level=1"], 2, "give the level to reach with --to"),
    "unknown-question": (0, None, ["--data", "colour=blue"], 2, "--data colour: no such question"),
    "template-version-missing": (
        0,
        _recorded("_commit", "v9.9.9"),
        [],
        REFUSED,
        "The template source cannot be found",
    ),
    "template-folder-missing": (
        0,
        _recorded("_src_path", "/nonexistent/mlops-levels/template"),
        [],
        REFUSED,
        "The template source cannot be found",
    ),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_refusal_leaves_every_byte_and_git_state_unchanged(project_at, capsys, case):
    level, breaks, args, expected_code, message = REFUSALS[case]
    project = project_at(level)
    add_user_data(project)
    if breaks:
        breaks(project)
    before = state(project)

    code, _, err = upgrade(capsys, str(project), "--yes", *args)

    assert (code, message in err) == (expected_code, True), err
    assert state(project) == before


def test_an_answer_copier_refuses_is_bad_usage_and_changes_nothing(project_at, capsys):
    project = project_at(0)
    add_user_data(project)
    before = state(project)

    code, _, err = upgrade(capsys, str(project), "--yes", "--data", "author_email=nobody")

    assert code == 2
    assert '"nobody" is not an email address' in err
    assert state(project) == before


def test_at_the_top_there_is_nothing_to_upgrade_to(tmp_path, capsys):
    top = LEVELS[-1]
    project = new_project(tmp_path, top)
    before = state(project)

    code, _, err = upgrade(capsys, str(project), "--yes")

    assert code == REFUSED
    assert "already at the top level" in err and "--template" in err
    assert state(project) == before


def test_plain_copier_refuses_a_dirty_tree_too(project_at):
    project = project_at(0)
    _dirty(project)
    before = state(project)

    result = copier_update(project, 1)

    assert result.returncode != 0
    assert state(project) == before


# --- A failure part-way -----------------------------------------------------------------


def block_a_file_of_the_next_level(project: Path) -> None:
    """An empty folder where level 1 writes train.py: git does not see it, Copier trips on it
    after it has written other files."""
    (project / "src" / PACKAGE / "train.py").mkdir(parents=True)
    assert git(project, "status", "--porcelain") == ""


def test_failure_part_way_is_undone_and_loses_nothing(project_at, capsys):
    project = project_at(0)
    add_user_data(project)
    block_a_file_of_the_next_level(project)
    before = state(project)

    code, _, err = upgrade(capsys, str(project), "--yes")

    assert code == 4
    assert "The upgrade to level 1 (Tracked) failed" in err
    assert "The step is undone" in err
    assert_nothing_lost(before, project)
    assert not (project / "src").exists()  # the undo removed the folder in the way, too

    assert upgrade(capsys, str(project), "--yes")[0] == 0
    assert (project / "mlflow.db").read_bytes() == before["files"]["mlflow.db"]


def test_recovery_from_an_interrupted_update_as_readme_says(project_at):
    """A killed CLI, or plain Copier failing, leaves a half-written step: the README's
    commands put the project back at its last commit, keeping the ignored data."""
    assert f"`{ABANDON}`" in (REPO / "README.md").read_text()
    project = project_at(0)
    add_user_data(project)
    block_a_file_of_the_next_level(project)
    before = state(project)

    result = copier_update(project, 1)
    assert result.returncode != 0
    assert git(project, "status", "--porcelain") != ""  # half-written

    subprocess.run(ABANDON, shell=True, cwd=project, check=True, capture_output=True)

    assert_nothing_lost(before, project)


# --- Dry runs -------------------------------------------------------------------------------


def test_dry_run_shows_the_step_and_changes_nothing(project_at, capsys):
    project = project_at(0)
    make_edits(project, 0)
    add_user_data(project)
    before = state(project)

    code, out, err = upgrade(capsys, str(project), "--dry-run")

    assert code == 0, err
    assert "diff --git a/.copier-answers.yml b/.copier-answers.yml" in out
    assert '+    "mlflow>=3.17,<4",' in out
    assert f"+++ b/src/{PACKAGE}/train.py" in out
    assert "Nothing changed in" in err
    assert state(project) == before


def test_dry_run_reports_a_conflict_and_changes_nothing(project_at, capsys):
    project = project_at(0)
    conflicting_edit(project)
    before = state(project)

    code, out, err = upgrade(capsys, str(project), "--dry-run")

    assert code == CONFLICT
    assert "would stop with conflicts in:\n  pyproject.toml" in err
    assert "+<<<<<<< before updating" in out
    assert state(project) == before


def test_dry_run_of_a_dirty_tree_warns_and_changes_nothing(project_at, capsys):
    project = project_at(0)
    _dirty(project)
    before = state(project)

    code, _, err = upgrade(capsys, str(project), "--dry-run")

    assert code == 0
    assert "the upgrade itself will refuse" in err and " M README.md" in err
    assert state(project) == before


# --- Plain Copier, template versions, another machine -----------------------------------------


def test_readme_documents_the_plain_copier_upgrade():
    command = "copier update --defaults --vcs-ref :current: --data level="
    assert command in (REPO / "README.md").read_text()
    assert command in (REPO / "template" / "MATURITY.md.jinja").read_text()


def test_template_takes_a_newer_version_at_the_same_level(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLOPS_LEVELS_HOME", str(tmp_path / "home"))
    source = prepare()
    # An older template version, as a previous release would have left in the cache.
    older = tmp_path / "older"
    git(tmp_path, "clone", "-q", str(source.path), str(older))
    readme = older / "template" / "README.md.jinja"
    readme.write_text(readme.read_text().replace("## Quick start", "## Getting started"))
    commit(older, "An older template")
    git(older, "tag", "v0.0.1")
    git(older, "push", "-q", "origin", "v0.0.1")
    project = tmp_path / "churn-model"
    from copier import run_copy

    run_copy(cache_url(), project, data={"level": 1}, vcs_ref="v0.0.1", defaults=True, quiet=True)
    commit_all(project)
    append(project / "README.md", "\nOur notes.\n")
    commit(project, "notes")
    assert "## Getting started" in (project / "README.md").read_text()

    code, out, err = upgrade(capsys, str(project), "--template", "--yes")

    assert code == 0, err
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["_commit"], answers["level"]) == (source.ref, 1)
    text = (project / "README.md").read_text()
    assert "## Quick start" in text and "## Getting started" not in text
    assert text.endswith("\nOur notes.\n")
    assert git(project, "log", "-1", "--format=%s").strip() == (
        f"Update to template {source.ref} at level 1 (Tracked)"
    )
    assert git(project, "status", "--porcelain") == ""
    code, out, _ = upgrade(capsys, str(project), "--template", "--yes")
    assert code == 0 and "already has template version" in out


def test_project_from_one_home_upgrades_from_another(tmp_path, monkeypatch, capsys):
    """Another machine with the same CLI version: the recorded `~/...` source resolves there."""
    monkeypatch.delenv("MLOPS_LEVELS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "a"))
    project = new_project(tmp_path)
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())["_src_path"]
    assert recorded == "~/.cache/mlops-levels/template"
    shutil.rmtree(tmp_path / "a")  # the first machine is gone
    monkeypatch.setenv("HOME", str(tmp_path / "b"))

    code, _, err = upgrade(capsys, str(project), "--yes")

    assert code == 0, err
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["level"], answers["_src_path"]) == (1, recorded)
    assert (tmp_path / "b" / ".cache" / "mlops-levels" / "template").is_dir()


def test_template_with_data_switches_the_orchestrator_and_keeps_edits(tmp_path, capsys):
    """At the same template version, --data changes an answer: a dvc project at level 2
    becomes a Kubeflow one, in one commit that keeps the team's edits."""
    project = new_project(tmp_path, level=2)
    append(project / "README.md", "\n## Team notes\n\nOurs.\n")
    replace_line(project / "params.yaml", "  C: 1.0", "  C: 0.5")
    commit(project, "Our edits")

    code, _, err = upgrade(
        capsys, str(project), "--template", "--yes", "--data", "orchestrator=kubeflow"
    )

    assert code == 0, err
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["orchestrator"], answers["level"]) == ("kubeflow", 2)
    assert (project / "pipeline.yaml").is_file()
    assert (project / "src" / PACKAGE / "pipeline" / "kubeflow.py").is_file()
    assert (project / "dvc.yaml").is_file()
    assert (project / "README.md").read_text().endswith("\n## Team notes\n\nOurs.\n")
    assert "  C: 0.5" in (project / "params.yaml").read_text().split("\n")
    assert git(project, "status", "--porcelain") == ""
