"""Tier 4: `mlops-levels diff` between levels, its output formats, `--project`, and its errors."""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from importlib.resources import files
from itertools import pairwise
from pathlib import Path

import jsonschema
import pytest
import yaml
from copier import run_copy

from mlops_levels.cli import main
from tests.helpers import LADDER, LEVELS, commit_all, copy_payload, git, run_at_a_terminal

ANSWERS = {"project_name": "Churn Model"}  # what the `render` fixture answers
DATA = [f"--data={key}={value}" for key, value in ANSWERS.items()]
SCHEMA = json.loads((files("mlops_levels") / "schemas" / "diff.schema.json").read_text())
OLD, NEW = str(LEVELS[0]), str(LEVELS[1])  # one step up, for the tests of options
# Each step up, the whole ladder down, and the widest jump up.
PAIRS = [*pairwise(LEVELS), (LEVELS[-1], LEVELS[0]), (LEVELS[0], LEVELS[-1])]


def diff(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run `diff` and return what it printed."""
    capsys.readouterr()
    assert main(["diff", *args]) == 0
    return capsys.readouterr().out


def diff_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    report = json.loads(diff(capsys, *args, "--json"))
    jsonschema.validate(report, SCHEMA)
    return report


def tree(project: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(project)): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(project).parts
    }


def template_files(project: Path) -> dict[str, bytes]:
    """The files the template wrote: uv.lock is uv's, resolved when `new` ran."""
    return {path: data for path, data in tree(project).items() if path != "uv.lock"}


def expected_statuses(old: dict[str, bytes], new: dict[str, bytes]) -> dict[str, str]:
    """What differs between two renders, worked out independently of the command."""
    statuses = {path: "added" for path in new.keys() - old.keys()}
    statuses |= {path: "removed" for path in old.keys() - new.keys()}
    statuses |= {path: "changed" for path in old.keys() & new.keys() if old[path] != new[path]}
    return statuses


@pytest.mark.parametrize(("old", "new"), PAIRS, ids=lambda level: str(level))
def test_diff_lists_exactly_the_files_that_differ_between_the_two_renders(capsys, render, old, new):
    report = diff_json(capsys, str(old), str(new), *DATA)

    assert {f["path"]: f["status"] for f in report["files"]} == expected_statuses(
        tree(render(old)), tree(render(new))
    )
    assert report["from"] == {"level": old, "name": LADDER[old]["name"]}
    assert report["to"] == {"level": new, "name": LADDER[new]["name"]}
    assert report["answers"]["project_name"] == ANSWERS["project_name"]
    summary = report["summary"]
    for status in ("added", "changed", "removed"):
        assert summary[status] == sum(f["status"] == status for f in report["files"])
    assert summary["insertions"] == sum(f["insertions"] for f in report["files"])


def test_default_output_is_a_plain_patch_that_turns_one_level_into_the_next(tmp_path, capsys):
    old, new = LEVELS[0], LEVELS[1]
    for level in (old, new):
        dest = tmp_path / f"level-{level}" / "churn"
        assert main(["new", str(dest), "--level", str(level), "--defaults"]) == 0
    project = tmp_path / f"level-{old}" / "churn"
    patch = tmp_path / "upgrade.patch"

    patch.write_text(diff(capsys, str(old), str(new), "--data", "project_name=churn"))
    git(project, "apply", str(patch))

    assert "\033[" not in patch.read_text()
    assert template_files(project) == template_files(tmp_path / f"level-{new}" / "churn")


def test_diff_is_coloured_at_a_terminal_unless_no_color_is_set():
    def diff_at_a_terminal(env: dict[str, str]) -> str:
        result = run_at_a_terminal("diff", str(LEVELS[0]), str(LEVELS[1]), env=env)
        assert result.code == 0, result.text
        return result.raw

    coloured = diff_at_a_terminal(dict(os.environ))
    plain = diff_at_a_terminal({**os.environ, "NO_COLOR": "1"})

    assert "\033[32m+" in coloured and "\033[31m-" in coloured
    assert "\033[" not in plain
    assert re.sub(r"\033\[[0-9;]*m", "", coloured) == plain


@pytest.mark.parametrize("output", [[], ["--stat"], ["--name-only"]], ids=["diff", "stat", "names"])
def test_equal_levels_print_no_differences(capsys, output):
    level = str(LEVELS[-1])

    assert diff(capsys, level, level, *output) == "no differences\n"


def test_equal_levels_in_json_have_no_files(capsys):
    report = diff_json(capsys, str(LEVELS[0]), str(LEVELS[0]))

    assert report["files"] == []
    assert report["summary"] == dict.fromkeys(report["summary"], 0)


def test_stat_and_name_only_give_one_line_per_file_with_its_status(capsys):
    old, new = OLD, NEW
    report = diff_json(capsys, old, new)

    stat = diff(capsys, old, new, "--stat").splitlines()
    names = diff(capsys, old, new, "--name-only").splitlines()

    assert names == [f"{f['status']:<8} {f['path']}" for f in report["files"]]
    assert [line.split()[:2] for line in stat[:-1]] == [
        [f["status"], f["path"]] for f in report["files"]
    ]
    assert [line.split()[-1] for line in stat[:-1]] == [
        "binary" if f["binary"] else f"-{f['deletions']}" for f in report["files"]
    ]
    summary = report["summary"]
    assert stat[-1] == (
        f"{len(report['files'])} files differ: {summary['added']} added, "
        f"{summary['changed']} changed, {summary['removed']} removed; "
        f"+{summary['insertions']} -{summary['deletions']} lines"
    )


class PageParser(HTMLParser):
    """Collects what the page's structure holds, and every reference to something outside."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.references: list[str] = []
        self.headings: list[str] = []
        self._heading: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.references += [
            value or "" for name, value in attrs if name in {"src", "href"} and value
        ]
        if tag == "h3":
            self._heading = ""

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "h3" and self._heading is not None:
            self.headings.append(self._heading)
            self._heading = None


@pytest.mark.parametrize(("old", "new"), [(LEVELS[0], LEVELS[-1]), (LEVELS[-1], LEVELS[0])])
def test_html_page_is_self_contained_with_a_side_by_side_diff_and_what_each_level_adds(
    tmp_path, capsys, old, new
):
    page = tmp_path / "diff.html"
    report = diff_json(capsys, str(old), str(new))

    printed = diff(capsys, str(old), str(new), "--html", str(page))
    html = page.read_text()
    parser = PageParser()
    parser.feed(html)

    assert printed.endswith(f"Wrote {page}\n")
    assert "<style>" in html and "table.diff" in html
    assert all(reference.startswith("#") for reference in parser.references)
    assert "script" not in parser.tags and "link" not in parser.tags and "img" not in parser.tags
    styles = re.findall(r"<style>(.*?)</style>", html, flags=re.DOTALL)
    assert not re.search(r"url\(|@import", "".join(styles))  # no fetch from the CSS
    low, high = sorted((old, new))
    assert parser.headings == [
        f"Level {level} - {LADDER[level]['name']}" for level in range(low + 1, high + 1)
    ]
    assert parser.tags.count("details") == len(report["files"])
    side_by_side = [f for f in report["files"] if not f["binary"] and f["diff"].count("\n") > 1]
    assert html.count('<table class="diff"') == len(side_by_side)
    for changed in report["files"]:
        assert f"</span>{changed['path']}<span class='counts'>" in html


def test_html_page_for_equal_levels_says_no_differences(tmp_path, capsys):
    page = tmp_path / "diff.html"

    diff(capsys, str(LEVELS[0]), str(LEVELS[0]), "--html", str(page))

    assert "no differences" in page.read_text()


def tagged_copy_of_the_template(root: Path, tag: str) -> Path:
    """This checkout's template as its own git repository, with one more file from level 1 on."""
    copy_payload(root)
    marker = root / "template" / f"{{% if level >= {LEVELS[1]} %}}EXTRA.md{{% endif %}}"
    marker.write_text("Only in this template version.\n")
    commit_all(root)
    git(root, "tag", tag)
    return root


def test_diff_with_project_uses_its_answers_and_template_version_and_leaves_it_alone(
    tmp_path, capsys
):
    template = tagged_copy_of_the_template(tmp_path / "template", "v9.9.9")
    project = tmp_path / "fraud"
    run_copy(
        str(template),
        project,
        data={"level": LEVELS[0], "project_name": "Fraud Alerts", "license": "Apache-2.0"},
        vcs_ref="v9.9.9",
        defaults=True,
        quiet=True,
    )
    commit_all(project)
    before = tree(project)
    old, new = str(LEVELS[0]), str(LEVELS[1])

    report = diff_json(capsys, old, new, "--project", str(project))
    current = diff_json(
        capsys, old, new, "--data", "project_name=Fraud Alerts", "--data", "license=Apache-2.0"
    )

    assert report["template"] == {"url": str(template), "ref": "v9.9.9"}
    assert report["answers"] == current["answers"]
    assert {f["path"] for f in report["files"]} == {f["path"] for f in current["files"]} | {
        "EXTRA.md"
    }
    assert tree(project) == before
    assert git(project, "status", "--porcelain") == ""


def test_diff_with_a_project_from_the_cli_renders_its_recorded_version(tmp_path, capsys):
    project = tmp_path / "churn"
    assert main(["new", str(project), "--level", str(LEVELS[0]), "--defaults"]) == 0
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())

    report = diff_json(capsys, str(LEVELS[0]), str(LEVELS[1]), "--project", str(project))

    assert report["template"] == {"url": recorded["_src_path"], "ref": recorded["_commit"]}
    assert report["answers"]["project_name"] == "churn"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([str(LEVELS[0]), "9"], f"level 9 does not exist: choose 0 to {len(LADDER) - 1}."),
        (["-1", str(LEVELS[0])], f"level -1 does not exist: choose 0 to {len(LADDER) - 1}."),
        ([OLD, NEW, "--data", "colour=blue"], "--data colour: no such question."),
        ([OLD, NEW, "--data", f"level={NEW}"], "give the levels to compare as FROM and TO"),
        ([OLD, NEW, "--data", "project_name"], "is not KEY=VALUE"),
        ([OLD, NEW, "--data", "author_email=nobody"], '"nobody" is not an email address'),
    ],
    ids=["unknown-to", "unknown-from", "unknown-key", "level-as-data", "not-key-value", "bad"],
)
def test_diff_reports_bad_levels_and_answers_as_usage_errors(capsys, args, message):
    assert main(["diff", *args]) == 2

    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        [OLD, NEW, "--project", ".", "--data", "license=MIT"],
        [OLD, NEW, "--stat", "--json"],
        [OLD, NEW, "--html", "page.html", "--name-only"],
        ["zero", NEW],
    ],
    ids=["project-and-data", "two-formats", "html-and-names", "not-a-number"],
)
def test_diff_refuses_conflicting_or_malformed_options(capsys, args):
    with pytest.raises(SystemExit) as exit_:
        main(["diff", *args])

    assert exit_.value.code == 2
    assert "usage: mlops-levels diff" in capsys.readouterr().err


def test_diff_project_errors_say_what_is_wrong(tmp_path, capsys):
    plain = tmp_path / "plain"
    plain.mkdir()
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / ".copier-answers.yml").write_text(
        f"_src_path: {tmp_path / 'gone'}\n_commit: v1\nlevel: 0\n"
    )
    cases = [
        (tmp_path / "missing", 2, "no such folder"),
        (plain, 3, "has no .copier-answers.yml"),
        (moved, 4, f"Rendering level {OLD} of {tmp_path / 'gone'} at v1 failed"),
    ]

    for project, code, message in cases:
        assert main(["diff", OLD, NEW, "--project", str(project)]) == code
        assert message in capsys.readouterr().err


def test_html_that_cannot_be_written_is_a_failure(tmp_path, capsys):
    page = tmp_path / "no-such-folder" / "diff.html"

    assert main(["diff", OLD, NEW, "--html", str(page)]) == 4

    assert f"cannot write {page}" in capsys.readouterr().err
