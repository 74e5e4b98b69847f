"""`mlops-levels diff`: what moving between two levels changes, rendered from the template.

Both levels are rendered with Copier into a temporary folder, never into the
user's tree, with the same answers: the `--data` ones (defaults for the rest),
or a project's own answers at the template version it records.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from mlops_levels.answers import (
    ANSWERS_FILE,
    CorruptAnswers,
    level_number,
    load_answers,
    parse_data,
)
from mlops_levels.errors import FAILED, REFUSED, USAGE, CLIError
from mlops_levels.ladder import Level, load_ladder
from mlops_levels.template_source import prepare

ADDED, CHANGED, REMOVED = "added", "changed", "removed"
# The project name defaults to the folder's name, so both renders share this one.
DEFAULT_FOLDER = "my-project"

Tree = dict[str, bytes]


@dataclass(frozen=True)
class Source:
    """A template version to render, and the answers to give it."""

    url: str
    ref: str | None
    answers: dict[str, Any]
    folder: str
    # Copier refusing the user's --data is bad usage; refusing a project's answers is a failure.
    error_code: int


@dataclass
class Change:
    """One file that differs between the two levels."""

    path: str
    status: str
    old: bytes | None
    new: bytes | None

    @cached_property
    def texts(self) -> tuple[str, str] | None:
        """Both sides as text, empty where the file is absent; None if either is binary."""
        old, new = _text(self.old), _text(self.new)
        return None if old is None or new is None else (old, new)

    @property
    def binary(self) -> bool:
        return self.texts is None

    @cached_property
    def patch(self) -> list[str]:
        """The unified diff of this file, headers included, as `git apply` reads it."""
        old_name = "/dev/null" if self.status == ADDED else f"a/{self.path}"
        new_name = "/dev/null" if self.status == REMOVED else f"b/{self.path}"
        if self.texts is None:
            return [f"Binary files {old_name} and {new_name} differ"]
        import difflib

        old, new = (_lines_with_endings(text) for text in self.texts)
        lines = [f"--- {old_name}", f"+++ {new_name}"]
        for line in list(difflib.unified_diff(old, new))[2:]:
            if line.endswith("\n"):
                lines.append(line[:-1])
            else:
                lines += [line, "\\ No newline at end of file"]
        return lines

    @property
    def insertions(self) -> int:
        return sum(1 for line in self.patch[2:] if line.startswith("+"))

    @property
    def deletions(self) -> int:
        return sum(1 for line in self.patch[2:] if line.startswith("-"))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="show what moving from one level to another changes",
        description="Render the template at two levels with the same answers, in a "
        "temporary folder, and show what differs: a unified diff by default (coloured "
        "at a terminal), or a summary, JSON, or an HTML page. Any pair of levels works, "
        "downwards too.",
    )
    parser.add_argument("from_level", type=int, metavar="FROM", help="the level to compare from")
    parser.add_argument("to_level", type=int, metavar="TO", help="the level to compare to")
    answers = parser.add_mutually_exclusive_group()
    answers.add_argument(
        "--project",
        type=Path,
        metavar="PATH",
        help="use this generated project's answers, at the template version it records",
    )
    answers.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="answer a template question, e.g. --data package_name=churn (repeatable)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--stat", action="store_true", help="one line per file: its status and line counts"
    )
    output.add_argument(
        "--name-only", action="store_true", help="one line per file: added, changed or removed"
    )
    output.add_argument(
        "--json",
        action="store_true",
        help="print the diff as JSON (schema: mlops_levels/schemas/diff.schema.json)",
    )
    output.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="write one self-contained page: a side-by-side diff, and which level adds what",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    ladder = load_ladder()
    old, new = (level_number(value, len(ladder)) for value in (args.from_level, args.to_level))
    source = _project_source(args.project) if args.project else _template_source(args.data)
    low, high = sorted((old, new))
    # The page names the level that brings each file, so it needs every level between.
    levels = list(range(low, high + 1)) if args.html else sorted({old, new})
    trees = _render(source, levels)
    changes = _compare(trees[old], trees[new])

    if args.json:
        print(json.dumps(_as_json(ladder, old, new, source, trees[new], changes), indent=2))
    elif args.html:
        page = _html(ladder, old, new, source, changes, _introduced(trees, low, high, changes))
        try:
            args.html.write_text(page, encoding="utf-8")
        except OSError as error:
            reason = error.strerror or error
            raise CLIError(f"cannot write {args.html}: {reason}", FAILED) from error
        print(f"{_summary(changes)}\nWrote {args.html}")
    elif not changes:
        print("no differences")
    elif args.stat:
        width = max(len(change.path) for change in changes)
        for change in changes:
            counts = "binary" if change.binary else f"+{change.insertions} -{change.deletions}"
            print(f"{change.status:<8} {change.path:<{width}}  {counts}")
        print(_summary(changes))
    elif args.name_only:
        for change in changes:
            print(f"{change.status:<8} {change.path}")
    else:
        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        for change in changes:
            for line in change.patch:
                print(_coloured(line) if colour else line)
    return 0


def _template_source(pairs: list[str]) -> Source:
    data = parse_data(pairs)
    if "level" in data:
        raise CLIError("--data level: give the levels to compare as FROM and TO instead.")
    _progress("Preparing the template")
    template = prepare()
    return Source(template.url, template.ref, data, DEFAULT_FOLDER, USAGE)


def _project_source(project: Path) -> Source:
    """The project's answers and template version, as its answers file records them."""
    if not project.is_dir():
        problem = "not a folder" if project.exists() else "no such folder"
        raise CLIError(f"--project {project}: {problem}.")
    path = project / ANSWERS_FILE
    if not path.is_file():
        raise CLIError(
            f"{project} has no {ANSWERS_FILE}, so it was not generated from this template. "
            "Give the answers with --data instead, or run `mlops-levels assess` on it.",
            REFUSED,
        )
    try:
        recorded = load_answers(path)
    except CorruptAnswers as error:
        raise CLIError(f"{path} is not a valid answers file: {error}.", REFUSED) from error
    if not recorded.get("_src_path"):
        raise CLIError(f"{path} does not record its template (_src_path).", REFUSED)
    answers = {
        key: value for key, value in recorded.items() if not key.startswith("_") and key != "level"
    }
    ref = None if recorded.get("_commit") is None else str(recorded["_commit"])
    return Source(str(recorded["_src_path"]), ref, answers, project.resolve().name, FAILED)


def _render(source: Source, levels: list[int]) -> dict[int, Tree]:
    """Each level's rendered files, rendered in a temporary folder that is then removed."""
    from copier import run_copy
    from copier.errors import CopierError, MissingFileWarning

    version = f" at {source.ref}" if source.ref else ""
    names = " and ".join(map(str, levels)) if len(levels) < 3 else f"{levels[0]} to {levels[-1]}"
    _progress(f"Rendering level{'s' if len(levels) > 1 else ''} {names} of {source.url}{version}")
    trees = {}
    with tempfile.TemporaryDirectory(prefix="mlops-levels-diff-") as scratch:
        for level in levels:
            dest = Path(scratch, f"level-{level}", source.folder)
            try:
                with warnings.catch_warnings():
                    # A fresh render has no answers file yet; the level guard expects that.
                    warnings.simplefilter("ignore", MissingFileWarning)
                    run_copy(
                        source.url,
                        dest,
                        data={**source.answers, "level": level},
                        vcs_ref=source.ref,
                        defaults=True,
                        quiet=True,
                    )
            except (CopierError, ValueError, OSError) as error:
                raise CLIError(
                    f"Rendering level {level} of {source.url}{version} failed: {error}",
                    source.error_code,
                ) from error
            trees[level] = {
                path.relative_to(dest).as_posix(): path.read_bytes()
                for path in sorted(dest.rglob("*"))
                if path.is_file()
            }
    return trees


def _compare(old: Tree, new: Tree) -> list[Change]:
    """The files that differ, by path: added, changed or removed going from old to new."""
    changes = []
    for path in sorted(old.keys() | new.keys()):
        before, after = old.get(path), new.get(path)
        if before == after:
            continue
        status = ADDED if before is None else REMOVED if after is None else CHANGED
        changes.append(Change(path, status, before, after))
    return changes


def _introduced(
    trees: dict[int, Tree], low: int, high: int, changes: list[Change]
) -> dict[str, int]:
    """For each changed path, the first level above `low` at which it differs from `low`."""
    return {
        change.path: next(
            level
            for level in range(low + 1, high + 1)
            if trees[level].get(change.path) != trees[low].get(change.path)
        )
        for change in changes
    }


def _counts(changes: list[Change]) -> dict[str, int]:
    """How many files were added, changed and removed, and how many lines."""
    counts = {
        status: sum(c.status == status for c in changes) for status in (ADDED, CHANGED, REMOVED)
    }
    return counts | {
        "insertions": sum(change.insertions for change in changes),
        "deletions": sum(change.deletions for change in changes),
    }


def _summary(changes: list[Change]) -> str:
    if not changes:
        return "no differences"
    counts = _counts(changes)
    return (
        f"{len(changes)} files differ: {counts[ADDED]} added, {counts[CHANGED]} changed, "
        f"{counts[REMOVED]} removed; +{counts['insertions']} -{counts['deletions']} lines"
    )


def _as_json(
    ladder: tuple[Level, ...],
    old: int,
    new: int,
    source: Source,
    rendered: Tree,
    changes: list[Change],
) -> dict[str, Any]:
    answers = yaml.safe_load(rendered.get(ANSWERS_FILE, b"")) or {}
    return {
        "from": {"level": old, "name": ladder[old]["name"]},
        "to": {"level": new, "name": ladder[new]["name"]},
        "template": {"url": source.url, "ref": source.ref},
        "answers": {
            key: value
            for key, value in answers.items()
            if not key.startswith("_") and key != "level"
        },
        "summary": _counts(changes),
        "files": [
            {
                "path": change.path,
                "status": change.status,
                "binary": change.binary,
                "insertions": change.insertions,
                "deletions": change.deletions,
                "diff": None if change.binary else "\n".join(change.patch),
            }
            for change in changes
        ],
    }


COLOURS = {"+++": "\033[1m", "---": "\033[1m", "+": "\033[32m", "-": "\033[31m", "@@": "\033[36m"}


def _coloured(line: str) -> str:
    for prefix, code in COLOURS.items():
        if line.startswith(prefix):
            return f"{code}{line}\033[0m"
    return line


def _lines_with_endings(text: str) -> list[str]:
    """Lines split on newlines only, as diff and git split them, each keeping its newline."""
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def _text(content: bytes | None) -> str | None:
    """A file's text; empty for a missing file, None for a binary one."""
    if content is None:
        return ""
    if b"\0" in content:
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _progress(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


# --- The HTML page --------------------------------------------------------------------

FOLD_LINES = 200

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; color: #1f2328; margin: 0 auto;
       max-width: 1400px; padding: 1rem 2rem 4rem; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
h2 { font-size: 1.2rem; border-bottom: 1px solid #d1d9e0; padding-bottom: .3rem;
     margin-top: 2rem; }
h3 { font-size: 1rem; margin: 1rem 0 .25rem; }
.muted { color: #59636e; }
code, .tree, summary { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
.badge { display: inline-block; min-width: 4.5em; text-align: center; border-radius: 1em;
         font: 600 .75rem/1.6 system-ui, sans-serif; padding: 0 .5em; margin-right: .5em; }
.added { background: #dafbe1; color: #116329; }
.changed { background: #fff8c5; color: #7d4e00; }
.removed { background: #ffebe9; color: #a40e26; }
.tree, .tree ul { list-style: none; margin: 0; padding-left: 1.4em; }
.tree { padding-left: .5em; font-size: .9rem; }
.tree .folder { font-weight: 600; }
.tree a { color: inherit; text-decoration: none; }
.tree a:hover { text-decoration: underline; }
details { border: 1px solid #d1d9e0; border-radius: 6px; margin: 1rem 0; overflow-x: auto; }
summary { background: #f6f8fa; padding: .5rem .75rem; cursor: pointer; font-size: .9rem; }
.counts { float: right; }
.ins { color: #116329; } .del { color: #a40e26; }
details > p { margin: .75rem; }
table.diff { border-collapse: collapse; width: 100%;
             font: 12px/1.45 ui-monospace, SFMono-Regular, Menlo, monospace; }
table.diff td { padding: 0 .5em; vertical-align: top; }
table.diff th { background: #f6f8fa; font-weight: 600; padding: .25rem .5em; text-align: left; }
table.diff td.diff_header { color: #59636e; text-align: right; background: #f6f8fa;
                            user-select: none; width: 1%; }
/* difflib's cryptic next-change links: the page has its own navigation. */
table.diff .diff_next { display: none; }
table.diff tbody + tbody { border-top: 1px dashed #d1d9e0; }
.diff_add { background: #ccffd8; }
.diff_chg { background: #fff5b1; }
.diff_sub { background: #ffd7d5; }
"""


def _html(
    ladder: tuple[Level, ...],
    old: int,
    new: int,
    source: Source,
    changes: list[Change],
    introduced: dict[str, int],
) -> str:
    import difflib
    from html import escape

    title = f"Level {old} ({ladder[old]['name']}) to level {new} ({ladder[new]['name']})"
    version = f" at {source.ref}" if source.ref else ""
    anchors = {change.path: f"file-{index}" for index, change in enumerate(changes)}
    parts = [
        f"<h1>{escape(title)}</h1>",
        f"<p class='muted'>{escape(_summary(changes))}. Rendered from "
        f"<code>{escape(source.url + version)}</code> with the same answers at both levels.</p>",
    ]
    if changes:
        going_up = new > old
        parts.append(
            "<h2>What each level adds</h2>"
            if going_up
            else "<h2>What each level added, which going down removes</h2>"
        )
        for level in range(min(old, new) + 1, max(old, new) + 1):
            paths = [change for change in changes if introduced[change.path] == level]
            parts.append(
                f"<h3>Level {level} - {escape(ladder[level]['name'])}</h3>"
                f"<p class='muted'>{escape(ladder[level]['summary'])}</p>"
            )
            parts.append(_tree_html(paths, anchors) if paths else "<p>No file changes.</p>")

        parts.append("<h2>Side by side</h2>")
        differ = difflib.HtmlDiff(wrapcolumn=80)
        for change in changes:
            counts = (
                "binary"
                if change.binary
                else f"<span class='ins'>+{change.insertions}</span> "
                f"<span class='del'>-{change.deletions}</span>"
            )
            if change.binary:
                body = "<p>A binary file: no line diff.</p>"
            elif not any(change.texts):
                body = "<p>An empty file.</p>"
            else:
                old_text, new_text = change.texts
                body = differ.make_table(
                    old_text.splitlines(),
                    new_text.splitlines(),
                    f"level {old}",
                    f"level {new}",
                    context=True,
                    numlines=3,
                )
            # Long diffs (data files, generated code) start folded so the page stays readable.
            folded = change.insertions + change.deletions > FOLD_LINES
            parts.append(
                f"<details{'' if folded else ' open'} id='{anchors[change.path]}'><summary>"
                f"<span class='badge {change.status}'>{change.status}</span>"
                f"{escape(change.path)}<span class='counts'>{counts}</span></summary>"
                f"{body}</details>"
            )
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>mlops-levels diff: {escape(title)}</title>\n<style>{STYLE}</style>\n"
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _tree_html(changes: list[Change], anchors: dict[str, str]) -> str:
    """The changed files as a nested list of folders, each file linking to its diff."""
    from html import escape

    root: dict[str, Any] = {}
    for change in changes:
        *folders, name = change.path.split("/")
        node = root
        for folder in folders:
            node = node.setdefault(folder + "/", {})
        node[name] = change

    def render(node: dict[str, Any]) -> str:
        items = []
        for name, child in sorted(node.items(), key=lambda item: not item[0].endswith("/")):
            if isinstance(child, dict):
                items.append(f"<li><span class='folder'>{escape(name)}</span>{render(child)}</li>")
            else:
                items.append(
                    f"<li><span class='badge {child.status}'>{child.status}</span>"
                    f"<a href='#{anchors[child.path]}'>{escape(name)}</a></li>"
                )
        return f"<ul>{''.join(items)}</ul>"

    return f"<div class='tree'>{render(root)}</div>"
