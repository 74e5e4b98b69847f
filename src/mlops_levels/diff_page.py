"""`diff --html`: one self-contained page, a side-by-side diff and which level adds what.

The page fetches nothing: its style is inline, and it has no script.
"""

from __future__ import annotations

import difflib
from html import escape
from typing import Any

from mlops_levels.changes import Change, Comparison, summary
from mlops_levels.ladder import Level

# A file's diff longer than this starts folded, so that the page stays readable.
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


def page(ladder: tuple[Level, ...], comparison: Comparison, origin: str) -> str:
    """The page comparing two levels, both rendered from `origin`."""
    old, new, changes = comparison.old, comparison.new, comparison.changes
    title = f"Level {old} ({ladder[old]['name']}) to level {new} ({ladder[new]['name']})"
    parts = [
        f"<h1>{escape(title)}</h1>",
        f"<p class='muted'>{escape(summary(changes))}. Rendered from "
        f"<code>{escape(origin)}</code> with the same answers at both levels.</p>",
    ]
    if changes:
        anchors = {change.path: f"file-{index}" for index, change in enumerate(changes)}
        parts += _by_level(ladder, comparison, anchors)
        parts.append("<h2>Side by side</h2>")
        differ = difflib.HtmlDiff(wrapcolumn=80)
        parts += [_side_by_side(differ, change, old, new, anchors) for change in changes]
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>mlops-levels diff: {escape(title)}</title>\n<style>{STYLE}</style>\n"
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _by_level(
    ladder: tuple[Level, ...], comparison: Comparison, anchors: dict[str, str]
) -> list[str]:
    """Each level between the two, and the tree of the files it brings."""
    old, new, introduced = comparison.old, comparison.new, comparison.introduced
    parts = [
        "<h2>What each level adds</h2>"
        if new > old
        else "<h2>What each level added, which going down removes</h2>"
    ]
    for level in range(min(old, new) + 1, max(old, new) + 1):
        paths = [change for change in comparison.changes if introduced[change.path] == level]
        parts.append(
            f"<h3>Level {level} - {escape(ladder[level]['name'])}</h3>"
            f"<p class='muted'>{escape(ladder[level]['summary'])}</p>"
        )
        parts.append(_tree(paths, anchors) if paths else "<p>No file changes.</p>")
    return parts


def _side_by_side(
    differ: difflib.HtmlDiff, change: Change, old: int, new: int, anchors: dict[str, str]
) -> str:
    """One file's diff as a table of the two sides, in a section that folds."""
    counts = (
        "binary"
        if change.binary
        else f"<span class='ins'>+{change.insertions}</span> "
        f"<span class='del'>-{change.deletions}</span>"
    )
    if change.texts is None:
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
    folded = change.insertions + change.deletions > FOLD_LINES
    return (
        f"<details{'' if folded else ' open'} id='{anchors[change.path]}'><summary>"
        f"<span class='badge {change.status}'>{change.status}</span>"
        f"{escape(change.path)}<span class='counts'>{counts}</span></summary>"
        f"{body}</details>"
    )


def _tree(changes: list[Change], anchors: dict[str, str]) -> str:
    """The changed files as a nested list of folders, each file linking to its diff."""
    root: dict[str, Any] = {}
    for change in changes:
        *folders, name = change.path.split("/")
        node = root
        for folder in folders:
            node = node.setdefault(folder + "/", {})
        node[name] = change
    return f"<div class='tree'>{_folder(root, anchors)}</div>"


def _folder(node: dict[str, Any], anchors: dict[str, str]) -> str:
    items = []
    # Folders first, then files, each in the order the changes came: by path.
    for name, child in sorted(node.items(), key=lambda item: not item[0].endswith("/")):
        if isinstance(child, dict):
            items.append(
                f"<li><span class='folder'>{escape(name)}</span>{_folder(child, anchors)}</li>"
            )
        else:
            items.append(
                f"<li><span class='badge {child.status}'>{child.status}</span>"
                f"<a href='#{anchors[child.path]}'>{escape(name)}</a></li>"
            )
    return f"<ul>{''.join(items)}</ul>"
