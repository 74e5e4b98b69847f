"""`assess` on trees nobody here made, built to break it: it finishes, exits 0, prints
no traceback, and names what it could not read instead of dropping it silently.

Each case runs the CLI in a process of its own, with a timeout, as a person runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from mlops_levels.checks import run_check
from mlops_levels.code import MAX_CODE_FILES
from mlops_levels.detect import Project
from mlops_levels.ladder import load_ladder
from mlops_levels.projects import find_projects
from mlops_levels.tree import MAX_BYTES, MAX_DEPTH

# Ten lines of aliases, each level nine times the one before: 9**8 values once expanded.
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + level)}: &{chr(98 + level)} [{', '.join([f'*{chr(97 + level)}'] * 9)}]\n"
    for level in range(8)
)


def assess(root: Path, *args: str, prefix: tuple[str, ...] = (), **env: str) -> tuple[str, str]:
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "mlops_levels", "assess", "--no-input", *args, str(root)],
        capture_output=True,
        timeout=120,
        env={**os.environ, **env},
        check=False,
    )
    out, err = (
        stream.decode("utf-8", "backslashreplace") for stream in (result.stdout, result.stderr)
    )
    assert result.returncode == 0, err
    assert "Traceback" not in err
    return out, err


def warnings(root: Path, *args: str, **kwargs) -> dict[str, str]:
    out, _ = assess(root, "--json", *args, **kwargs)
    return {warning["path"]: warning["why"] for warning in json.loads(out)["warnings"]}


def test_a_recursive_yaml_alias_is_a_warning(tmp_path):
    (tmp_path / ".gitlab-ci.yml").write_text("job: &loop\n  script: *loop\n")

    assert warnings(tmp_path) == {
        ".gitlab-ci.yml": "does not parse: the alias *loop contains itself"
    }


def test_a_yaml_alias_bomb_is_refused_before_it_expands(tmp_path):
    (tmp_path / ".gitlab-ci.yml").write_text(ALIAS_BOMB)

    assert "aliases expand to more than" in warnings(tmp_path)[".gitlab-ci.yml"]


def test_yaml_nested_too_deeply_to_parse_is_a_warning(tmp_path):
    (tmp_path / "dvc.yaml").write_text("[" * 5000 + "]" * 5000)

    assert warnings(tmp_path)["dvc.yaml"] == "nested too deeply to parse"


def test_folders_nested_beyond_the_depth_limit_are_named_not_walked(tmp_path):
    folders = [str(tmp_path) + "/d" * depth for depth in range(1, 1101)]
    for folder in folders:  # one at a time: mkdir(parents=True) recurses as deep
        os.mkdir(folder)
    Path(folders[-1], "requirements.txt").write_text("mlflow\n")
    try:
        found = warnings(tmp_path)
    finally:
        # Bottom up, by hand: pytest's own clean-up of tmp_path would recurse as deep.
        Path(folders[-1], "requirements.txt").unlink()
        for folder in reversed(folders):
            os.rmdir(folder)

    assert found == {
        "/".join(["d"] * (MAX_DEPTH + 1)): f"deeper than {MAX_DEPTH} folders: not looked into"
    }


def test_an_unreadable_folder_is_named_and_the_rest_assessed(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "explore.ipynb").write_text("{}")
    volume = tmp_path / "pgdata"
    volume.mkdir()
    (volume / "base").mkdir()
    volume.chmod(0)
    # Root reads through permission bits: drop the capabilities that let it.
    drop = "-dac_override,-dac_read_search"
    prefix = (
        ("setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", "--")
        if os.geteuid() == 0
        else ()
    )
    try:
        out, _ = assess(tmp_path, prefix=prefix)
    finally:
        volume.chmod(0o755)

    assert "pgdata: could not be read: Permission denied" in out
    assert "notebooks/explore.ipynb" in out


def test_a_file_name_that_is_not_utf8_prints_on_a_strict_utf8_terminal(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / os.fsdecode(b"explore-\xff.ipynb")).write_text("{}")

    out, _ = assess(tmp_path, PYTHONIOENCODING="utf-8:strict")

    assert "notebooks/explore-\\udcff.ipynb" in out


def test_a_huge_requirements_file_is_read_only_up_to_the_limit(tmp_path):
    requirements = tmp_path / "requirements.txt"
    with requirements.open("wb") as file:
        file.write(b"mlflow==3.1\n")
        file.truncate(300 * 1024 * 1024)  # sparse: 300 MB on paper, nothing on disk

    out, _ = assess(tmp_path, "--json")

    report = json.loads(out)
    assert report["warnings"] == [
        {
            "path": "requirements.txt",
            "why": f"larger than {MAX_BYTES >> 20} MiB: only its start was read",
        }
    ]
    dependencies = next(c for c in report["criteria"] if c["id"] == "L0-dependencies")
    assert dependencies["evidence"] == "requirements.txt"


@pytest.mark.parametrize(
    ("name", "text", "why"),
    [
        (".github/workflows/ci.yml", "jobs: [unclosed\n", "does not parse: while parsing"),
        ("pyproject.toml", "[project\n", "does not parse: Expected ']'"),
        ("requirements.txt", "\xff\xfe", "not UTF-8 text"),
    ],
    ids=["workflow", "pyproject", "binary"],
)
def test_a_file_that_does_not_parse_is_a_warning_not_silence(tmp_path, name, text, why):
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_bytes(text.encode("latin-1"))

    assert warnings(tmp_path)[name].startswith(why)


def test_a_dangling_symlink_is_not_evidence(tmp_path):
    (tmp_path / "dvc.yaml").symlink_to(tmp_path / "gone.yaml")

    out, _ = assess(tmp_path, "--json")

    pipeline = next(c for c in json.loads(out)["criteria"] if c["id"] == "L2-pipeline")
    assert pipeline["status"] == "fail"


def test_binary_junk_under_known_names_is_not_evidence(tmp_path):
    for name in ("Dockerfile", "notebooks/explore.ipynb", "tests/test_model.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"\x7fELF\x02\x01\x00\x00" * 64)

    out, _ = assess(tmp_path, "--json")

    report = json.loads(out)
    found = {c["id"]: c["status"] for c in report["criteria"]}
    assert [found[i] for i in ("L3-container", "L0-ml-code", "L2-tests")] == ["fail"] * 3
    assert {w["path"]: w["why"] for w in report["warnings"]}["Dockerfile"] == "not UTF-8 text"


class CountingProject(Project):
    """A project that counts how often each file is read from disk."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, ask=lambda _criterion: None)
        self.reads: Counter[str] = Counter()

    def _read_text(self, path: str) -> str:
        self.reads[path] += 1
        return super()._read_text(path)


def test_each_file_is_read_once_per_run(tmp_path):
    files = {
        "pyproject.toml": "[project.scripts]\nx = 'x:main'\n[tool.poe.tasks]\ntest = 'pytest'\n",
        "Makefile": "test:\n\tpytest\n",
        "x/__init__.py": "import mlflow\n",
        "tests/test_x.py": "def test_x():\n    assert 1\n",
        ".github/workflows/ci.yml": "jobs:\n  t:\n    steps:\n      - run: make test\n",
        "dvc.yaml": "stages:\n  train:\n    cmd: python -m x\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    project = CountingProject(tmp_path)

    for criterion in (c for level in load_ladder() for c in level["criteria"]):
        run_check(project, criterion)

    assert project.reads
    assert max(project.reads.values()) == 1


def test_a_monorepos_sub_projects_read_each_file_once_through_its_one_walk(tmp_path):
    sub_projects = ["services/churn", "services/fraud", "research"]
    for folder in sub_projects:
        package = folder.rsplit("/", 1)[-1]
        files = {
            "pyproject.toml": f"[project]\nname = '{package}'\n[project.scripts]\n"
            f"{package} = '{package}:main'\n",
            f"{package}/__init__.py": "import mlflow\nfrom sklearn import svm\n\n"
            "def train():\n    svm.SVC().fit([[0]], [0])\n",
            "tests/test_it.py": f"from {package} import train\n\n"
            "def test_it():\n    assert train() is None\n",
            "dvc.yaml": f"stages:\n  train:\n    cmd: python -m {package}\n",
        }
        for name, text in files.items():
            (tmp_path / folder / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / folder / name).write_text(text)
    project = CountingProject(tmp_path)
    criteria = [c for level in load_ladder() for c in level["criteria"]]

    for criterion in criteria:
        run_check(project, criterion)
    root_is_project, found = find_projects(project)
    views = [project.within(folder, ask=lambda _criterion: None) for folder in found]
    verdicts = [{c["id"]: run_check(view, c).status for c in criteria} for view in views]

    assert (root_is_project, sorted(found)) == (False, sorted(sub_projects))
    assert all(verdict["L2-tests"] == verdict["L1-package"] == "pass" for verdict in verdicts)
    assert project.reads["services/fraud/tests/test_it.py"] == 1
    assert max(project.reads.values()) == 1


def test_code_past_the_file_limit_is_named_not_read(tmp_path):
    for number in range(MAX_CODE_FILES + 1):
        (tmp_path / f"m{number:05}.py").write_text("import os\n")
    project = Project(tmp_path, ask=lambda _criterion: None)

    run_check(project, next(c for c in load_ladder()[0]["criteria"] if c["id"] == "L0-ml-code"))

    assert project.warnings == {
        f"m{MAX_CODE_FILES:05}.py": f"past {MAX_CODE_FILES:,} code files: not read"
    }


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("notebooks/deep.ipynb", "[" * 100_000 + "]" * 100_000),
        ("package.json", '{"scripts": {"test": ' + "[" * 900 + "]" * 900 + "}}"),
        (".gitlab-ci.yml", "test:\n  script: " + "[" * 900 + "]" * 900 + "\n"),
        (
            "tests/test_deep.py",
            "def test_deep():\n    assert " + "(" * 5000 + "1" + ")" * 5000 + "\n",
        ),
    ],
    ids=["notebook", "package.json", "gitlab-ci", "python"],
)
def test_code_and_tasks_nested_too_deeply_are_no_crash(tmp_path, name, text):
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(text)
    (tmp_path / ".github/workflows").mkdir(parents=True)
    (tmp_path / ".github/workflows/ci.yml").write_text(
        "jobs:\n  t:\n    steps:\n      - run: npm test\n"
    )

    assess(tmp_path)
