"""Hostile free-text answers: refused with the validator's message, or kept verbatim.

Whatever a person types as a name, description, author or email, every level
either refuses it with one of the template's own messages or generates a
project whose TOML, YAML and JSON files all parse, whose parsed values equal
what was typed, whose Python compiles, and in which no template syntax from
the answer was evaluated.
"""

from __future__ import annotations

import ast
import json
import os
import tempfile
import tomllib
from pathlib import Path

import pytest
import yaml
from copier import run_copy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_levels.template_source import prepare
from tests.helpers import LEVELS

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "500"))

# What breaks naive templating: quotes, escapes, newlines, padding, Jinja
# delimiters, YAML/TOML/Markdown syntax, right-to-left and non-ASCII text.
SPECIALS = [
    '"',
    "'",
    '"""',
    "'''",
    "\\",
    "\\n",
    "\n",
    "\r\n",
    "\t",
    # Line breaks to YAML too: NEL (a C1 control character) and Unicode's line
    # and paragraph separators.
    "\x85",
    "\u2028",
    "\u2029",
    # DEL: JSON leaves it as it is, and TOML refuses it in a string.
    "\x7f",
    " ",
    "  ",
    "{{",
    "}}",
    "{{ 7 * 7 }}",
    "{%",
    "%}",
    "{% raw %}",
    "{#",
    "#}",
    "yes",
    "no",
    "on",
    "null",
    "~",
    "true",
    "1e3",
    "0o17",
    ": ",
    "#",
    "- ",
    "? ",
    "&a",
    "*a",
    "!tag",
    "|",
    ">",
    "[",
    "]",
    "{",
    "}",
    ",",
    "=",
    "[tool]",
    "`",
    "**",
    "_",
    "<!--",
    "<b>",
    "\u202e",
    "\u200f",
    "שלום",
    "مرحبا",
    "é",
    "ß",
    "漢字",
    "😀",
]
fragment = st.one_of(
    st.sampled_from(SPECIALS),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=4),
)
text = st.lists(fragment, max_size=6).map("".join)
email = st.builds(lambda local, domain: f"{local}@{domain}.org", text, text)
ANSWERS = {
    "project_name": text.map(lambda value: "Churn " + value),
    "description": text,
    "author_name": text,
    "author_email": email,
}
# Each validator's message starts with one of these; anything else is a bug.
REFUSALS = (
    "The project name",
    "The package name",
    '" is not a valid package name',
    "The description",
    "The author name",
    '" is not an email address',
)


@pytest.fixture(scope="module")
def source():
    return prepare()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    field=st.sampled_from(sorted(ANSWERS)),
    data=st.data(),
    level=st.sampled_from(LEVELS),
    orchestrator=st.sampled_from(["dvc", "kubeflow"]),
)
def test_hostile_answer_is_refused_or_lands_verbatim(source, field, data, level, orchestrator):
    value = data.draw(ANSWERS[field], label=field)
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "project"
        try:
            run_copy(
                source.url,
                project,
                data={field: value, "level": level, "orchestrator": orchestrator},
                vcs_ref=source.ref,
                defaults=True,
                quiet=True,
            )
        except ValueError as error:
            assert "Validation error for question" in str(error)
            assert any(refusal in str(error) for refusal in REFUSALS), error
            return
        assert_well_formed(project)
        assert_verbatim(project, field, value)


def assert_well_formed(project: Path) -> None:
    for path in project.rglob("*"):
        if not path.is_file() or ".git" in path.parts:
            continue
        if path.suffix == ".toml":
            tomllib.loads(path.read_text(encoding="utf-8"))
        elif path.suffix in {".yml", ".yaml"}:
            list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        elif path.suffix in {".json", ".ipynb"}:
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".py":
            ast.parse(path.read_text(encoding="utf-8"))


def assert_verbatim(project: Path, field: str, value: str) -> None:
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers[field] == value
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    readme = (project / "README.md").read_text(encoding="utf-8")
    if field == "project_name":
        assert readme.startswith(f"# {value}\n")
        for notebook in (project / "notebooks").glob("*.ipynb"):
            title = json.loads(notebook.read_text(encoding="utf-8"))["cells"][0]["source"]
            assert "".join(title).startswith(f"# {value}: ")
    elif field == "description":
        assert pyproject["description"] == value
        assert f"\n{value}\n" in readme
    elif field == "author_name":
        assert pyproject["authors"][0]["name"] == value
    elif field == "author_email":
        assert pyproject["authors"][0]["email"] == value
