"""`mlops-levels diff`: what moving between two levels changes, rendered from the template.

Both levels are rendered with Copier into a temporary folder, never into the
user's tree, with the same answers: the `--data` ones (defaults for the rest),
or a project's own answers at the template version it records.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_levels import copier_calls, ui
from mlops_levels.answers import ANSWERS_FILE, Answers, parse_answers, read_answers
from mlops_levels.changes import Change, Comparison, Tree, counts, summary
from mlops_levels.diff_page import page
from mlops_levels.errors import FAILED, CLIError
from mlops_levels.ladder import Level, load_ladder
from mlops_levels.options import add_data, level_number, parse_data
from mlops_levels.template_source import TemplateSource, prepare

# The project name defaults to the folder's name, so both renders share this one.
DEFAULT_FOLDER = "my-project"
# The progress line names up to two levels one by one, and more as a range.
NAMED_LEVELS = 2


@dataclass(frozen=True)
class Source:
    """A template version to render, and the answers to give it."""

    template: TemplateSource
    answers: dict[str, Any]
    folder: str
    # Copier refusing the user's --data is bad usage; refusing a project's answers, a failure.
    failure_code: int | None = None

    @property
    def origin(self) -> str:
        url, ref = self.template.url, self.template.ref
        return f"{url} at {ref}" if ref else url


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
    add_data(answers, "a template question, e.g. --data package_name=churn")
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
    comparison = Comparison(old, new, _render(source, levels))
    changes = comparison.changes

    if args.json:
        print(json.dumps(_as_json(ladder, comparison, source), indent=2))
    elif args.html:
        _write_page(args.html, ladder, comparison, source)
    elif not changes:
        print("no differences")
    elif args.stat:
        width = max(len(change.path) for change in changes)
        for change in changes:
            lines = "binary" if change.binary else f"+{change.insertions} -{change.deletions}"
            print(f"{change.status:<8} {change.path:<{width}}  {lines}")
        print(summary(changes))
    elif args.name_only:
        for change in changes:
            print(f"{change.status:<8} {change.path}")
    else:
        _print_patch(changes)
    return 0


def _print_patch(changes: list[Change]) -> None:
    colour = ui.colour()
    for change in changes:
        for line in change.patch:
            print(ui.coloured(line) if colour else line)


def _template_source(pairs: list[str]) -> Source:
    data = parse_data(pairs, level_instead="give the levels to compare as FROM and TO instead.")
    ui.progress("Preparing the template")
    template = prepare()
    return Source(template, data, DEFAULT_FOLDER)


def _project_source(project: Path) -> Source:
    """The project's answers and template version, as its answers file records them."""
    if not project.is_dir():
        problem = "not a folder" if project.exists() else "no such folder"
        raise CLIError(f"--project {project}: {problem}.")
    recorded = read_answers(project)
    folder = project.resolve().name
    template = TemplateSource(recorded.source, recorded.version)
    return Source(template, recorded.given, folder, failure_code=FAILED)


def _render(source: Source, levels: list[int]) -> dict[int, Tree]:
    """Each level's rendered files, rendered in a temporary folder that is then removed."""
    names = f"{levels[0]} to {levels[-1]}"
    if len(levels) <= NAMED_LEVELS:
        names = " and ".join(map(str, levels))
    ui.progress(f"Rendering level{'s' if len(levels) > 1 else ''} {names} of {source.origin}")
    trees = {}
    with tempfile.TemporaryDirectory(prefix="mlops-levels-diff-") as scratch:
        for level in levels:
            dest = Path(scratch, f"level-{level}", source.folder)
            answers = {**source.answers, "level": level}
            try:
                copier_calls.copy(source.template, dest, answers)
            except CLIError as error:
                doing = f"Rendering level {level} of {source.origin}"
                raise error.within(doing, exit_code=source.failure_code) from error
            trees[level] = {
                path.relative_to(dest).as_posix(): path.read_bytes()
                for path in sorted(dest.rglob("*"))
                if path.is_file()
            }
    return trees


def _write_page(
    file: Path, ladder: tuple[Level, ...], comparison: Comparison, source: Source
) -> None:
    try:
        file.write_text(page(ladder, comparison, source.origin), encoding="utf-8")
    except OSError as error:
        raise CLIError(f"cannot write {file}: {error.strerror or error}", FAILED) from error
    print(f"{summary(comparison.changes)}\nWrote {file}")


def _as_json(ladder: tuple[Level, ...], comparison: Comparison, source: Source) -> dict[str, Any]:
    old, new = comparison.old, comparison.new
    rendered = comparison.trees[new]
    file = Path(ANSWERS_FILE)
    recorded = Answers(file, parse_answers(rendered[ANSWERS_FILE], file))
    return {
        "from": {"level": old, "name": ladder[old]["name"]},
        "to": {"level": new, "name": ladder[new]["name"]},
        "template": {"url": source.template.url, "ref": source.template.ref},
        "answers": recorded.given,
        "summary": counts(comparison.changes),
        "files": [
            {
                "path": change.path,
                "status": change.status,
                "binary": change.binary,
                "insertions": change.insertions,
                "deletions": change.deletions,
                "diff": None if change.binary else "\n".join(change.patch),
            }
            for change in comparison.changes
        ],
    }
