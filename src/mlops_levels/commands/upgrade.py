"""`mlops-levels upgrade`: move a generated project up the ladder, one level per commit.

Each step is one Copier update at the template version the project records
(`--vcs-ref :current:`) with only the level changed, then one commit, "Upgrade
to level N (Name)". Everything that can refuse the upgrade is checked before
Copier runs (preflight.py), so a refusal changes nothing; steps.py runs the steps.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from mlops_levels import git, preflight, steps, ui
from mlops_levels.answers import read_answers
from mlops_levels.checks import run_check
from mlops_levels.copier_calls import CURRENT
from mlops_levels.detect import PASS, UNKNOWN, Project
from mlops_levels.errors import OK
from mlops_levels.ladder import Level, describe, load_ladder
from mlops_levels.options import add_data, add_folder, level_number, parse_data


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "upgrade",
        help="move a generated project up one maturity level (or to --to N), one commit a step",
        description="Upgrade a project that mlops-levels (or Copier) generated to the next "
        "maturity level: a `copier update` at the template version it records, with only the "
        "level changed, committed as 'Upgrade to level N (Name)'. The project must be a clean "
        "git repository. Your edits are merged with the template's changes; where they "
        "conflict, the upgrade stops and lists the files to resolve.",
    )
    add_folder(parser, "project")
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--to",
        type=int,
        metavar="N",
        help="walk up to level N, one step and one commit per level; stop at the first conflict",
    )
    target.add_argument(
        "--template",
        action="store_true",
        help="stay at this level and take the template version this mlops-levels carries; "
        "with --data, change an answer too (e.g. --data orchestrator=kubeflow)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="run the upgrade in a throwaway clone and show its diff; change nothing",
    )
    parser.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="ask nothing: no confirmation, and the default for any question a new level asks",
    )
    add_data(parser, "a question the new level asks, e.g. --data ci_provider=gitlab")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    ladder = load_ladder()
    data = parse_data(args.data, level_instead="give the level to reach with --to instead.")
    target = None if args.to is None else level_number(args.to, len(ladder))
    # Messages name the folder: "." would read badly in them.
    path = Path.cwd() if args.path == Path(".") else args.path
    project = preflight.inspect(path, ladder, dry_run=args.dry_run)

    levels = preflight.levels_to_walk(project, ladder, target, template=args.template)
    if not levels:
        print(f"{project.path} is already at level {describe(ladder[project.level])}")
        return OK
    source = preflight.template_source(project)
    ref = preflight.newest_version(project, source) if args.template else CURRENT
    # At the same version, --data still changes an answer: e.g. the orchestrator.
    if args.template and ref == project.version and not data:
        print(f"{project.path} already has template version {ref}, the one this mlops-levels has.")
        return OK
    walk = [steps.Step(ladder[level], ref, template=args.template) for level in levels]
    ask = not args.yes and ui.at_terminal()

    if args.dry_run:
        steps.dry_run(project.path, walk, data, ask=ask)
        return OK
    if args.template:
        plan = f"Update {project.path} to template {ref or 'its newest version'}"
    else:
        count = f"{len(walk)} step{'s' if len(walk) > 1 else ''}, one commit each"
        plan = f"Upgrade {project.path} from level {ui.level_name(ladder[project.level])} to "
        plan += f"{walk[-1].title} ({count})"
    ui.progress(plan)
    if ask and not ui.confirm(f"{plan}?"):
        print("Nothing changed.")
        return OK
    start = git.git(project.path, "rev-parse", "HEAD").strip()
    steps.walk(project.path, walk, data, ask=ask)
    _report(project.path, ladder, walk[-1], start)
    return OK


def _report(path: Path, ladder: tuple[Level, ...], final: steps.Step, start: str) -> None:
    """What the upgrade added, and where the project stands against the next level."""
    level = final.level
    # uv.lock's churn (thousands of lines a level) would hide the template's changes.
    changed = git.git(path, "diff", "--shortstat", start, "HEAD", "--", ".", ":!uv.lock").strip()
    if final.template:
        version = read_answers(path).version
        print(f"\n{path} is at level {describe(level)}, now on template {version}")
    else:
        print(f"\n{path} is now at level {describe(level)}")
        print(textwrap.fill(f"Level {level['level']} added: {level['description']}", width=88))
        print(f"Tools: {', '.join(level['tools'])}.")
    print(f"Changes: {changed or 'none'}. Run `uv sync` to install what the project now needs.")
    if level["level"] + 1 == len(ladder):
        print("This is the top of the ladder; `mlops-levels upgrade --template` takes newer")
        print("template versions at this level.")
        return
    upcoming = ladder[level["level"] + 1]
    folder = Project(path, ask=lambda criterion: None)
    marks = {PASS: "x", UNKNOWN: "?"}
    print(f"\nNext: level {describe(upcoming)}")
    print("Its entry criteria, checked in this project ([ ] open, [x] met, [?] ask your team):")
    for criterion in upcoming["criteria"]:
        mark = marks.get(run_check(folder, criterion).status, " ")
        print(f"  [{mark}] {criterion['sentence']} ({criterion['id']})")
    print("`mlops-levels upgrade --dry-run` previews the next step; MATURITY.md describes it.")
