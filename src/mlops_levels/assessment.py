"""What `assess` found in one repository, and its two reports: for people, and JSON."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_levels.answers import ANSWERS_FILE
from mlops_levels.checks import fix_hint
from mlops_levels.detect import PASS, UNKNOWN, Criterion, Finding
from mlops_levels.ladder import Level, gates


@dataclass(frozen=True)
class Result:
    """One criterion, evaluated."""

    level: Level
    criterion: Criterion
    finding: Finding

    @property
    def passed(self) -> bool:
        return self.finding.status == PASS

    @property
    def gates(self) -> bool:
        return gates(self.criterion)


@dataclass(frozen=True)
class NextStep:
    """The level to reach next, and how: the upgrade command, or the criteria still open."""

    level: Level
    todo: list[Result]
    command: str | None = None
    preview: str | None = None


@dataclass(frozen=True)
class SubProject:
    """A project found under the assessed folder, assessed as a folder of its own."""

    path: str  # relative to the assessed folder, posix
    reached: int | None
    results: list[Result]


@dataclass(frozen=True)
class Assessment:
    """What `assess` found in one repository: what both of its reports show."""

    root: Path
    ladder: tuple[Level, ...]
    results: list[Result]
    reached: int | None  # None: not even level 0 holds
    generated: dict[str, Any] | None
    step: NextStep | None
    warnings: dict[str, str]  # path: why it could not be read
    # The projects under root, each with its level; root_is_project when root has
    # a project file of its own besides them.
    projects: list[SubProject]
    root_is_project: bool


def as_json(assessment: Assessment) -> dict[str, Any]:
    root, ladder, results = assessment.root, assessment.ladder, assessment.results
    reached, generated, step = assessment.reached, assessment.generated, assessment.step
    return {
        "path": str(root.resolve()),
        "generated": generated
        and {
            "level": generated["level"],
            "template": str(generated["_src_path"]),
            "version": None if generated.get("_commit") is None else str(generated["_commit"]),
        },
        "level": reached,
        "level_name": _level_name(ladder, reached),
        "criteria": _criteria(results),
        "next_step": step
        and {
            "level": step.level["level"],
            "name": step.level["name"],
            "command": step.command,
            "preview": step.preview,
            "todo": [result.criterion["id"] for result in step.todo],
        },
        "warnings": [{"path": path, "why": why} for path, why in assessment.warnings.items()],
        "root_is_project": assessment.root_is_project,
        "projects": [
            {
                "path": project.path,
                "level": project.reached,
                "level_name": _level_name(ladder, project.reached),
                "criteria": _criteria(project.results),
            }
            for project in assessment.projects
        ],
    }


def _level_name(ladder: tuple[Level, ...], reached: int | None) -> str | None:
    return None if reached is None else ladder[reached]["name"]


def _criteria(results: list[Result]) -> list[dict[str, Any]]:
    return [
        {
            "id": result.criterion["id"],
            "level": result.level["level"],
            "sentence": result.criterion["sentence"],
            "status": result.finding.status,
            "evidence": result.finding.evidence,
            "hint": fix_hint(result.criterion["id"]),
            "advisory": not result.gates,
        }
        for result in results
    ]


def print_report(assessment: Assessment) -> None:
    """The assessment for people: each criterion with its evidence, then the next step."""
    _print_criteria(assessment)
    print()
    reached = _describe_level(assessment.ladder, assessment.reached)
    if assessment.reached is None:
        reached += " (level 0's criteria do not all hold)"
    print(f"Level reached: {reached}")
    _print_projects(assessment)
    _print_next_step(assessment)


def _describe_level(ladder: tuple[Level, ...], reached: int | None) -> str:
    if reached is None:
        return "none"
    return f"{reached} - {ladder[reached]['name']}"


def _print_projects(assessment: Assessment) -> None:
    """The projects found under the folder, one line each: a monorepo's table."""
    projects = assessment.projects
    if not projects:
        return
    also = "; the folder itself is a project too" if assessment.root_is_project else ""
    print(f"\nProjects in this folder ({len(projects)}, each assessed alone{also}):")
    # A folder's name may hold a newline or a tab: one project, one line.
    paths = [_printable(project.path) for project in projects]
    width = max(len(path) for path in paths)
    for path, project in zip(paths, projects, strict=True):
        print(f"  {path:<{width}}  {_describe_level(assessment.ladder, project.reached)}")
    example = _printable(shlex.quote(str(assessment.root / projects[0].path)))
    print(f"Assess one, with its evidence and next step: mlops-levels assess {example}")
    print()


def _print_criteria(assessment: Assessment) -> None:
    root, ladder, results = assessment.root, assessment.ladder, assessment.results
    generated = assessment.generated
    print(f"Assessing {root.resolve()}")
    if generated:
        level = ladder[generated["level"]]
        print(
            f"Generated by mlops-levels at level {level['level']} ({level['name']}), "
            f"template {generated.get('_commit', 'version unknown')} from {generated['_src_path']}."
        )
    else:
        print("Not generated by mlops-levels: assessed from its files alone.")

    width = max(len(result.criterion["id"]) for result in results)
    for level in ladder:
        print(f"\nLevel {level['level']} - {level['name']}")
        for result in (result for result in results if result.level is level):
            criterion, finding = result.criterion, result.finding
            advisory = "" if result.gates else " (advisory: gates no level)"
            print(
                f"  {finding.status:<7}  {criterion['id']:<{width}}  "
                f"{criterion['sentence']}{advisory}"
            )
            indent = " " * (width + 13)
            print(f"{indent}evidence: {finding.evidence}")
            if not result.passed:
                print(f"{indent}fix: {fix_hint(criterion['id'])}")

    if assessment.warnings:
        print(f"\nNot read, so not evidence ({len(assessment.warnings)}):")
        for path, why in assessment.warnings.items():
            print(f"  {path}: {why}")


def _printable(text: str) -> str:
    """Text with its control characters (and undecodable bytes) as escapes."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _print_next_step(assessment: Assessment) -> None:
    root, ladder, reached = assessment.root, assessment.ladder, assessment.reached
    generated, step = assessment.generated, assessment.step
    if step is None:
        print("Next step: none. This is the top of the ladder.")
        return
    name = f"level {step.level['level']} ({step.level['name']})"
    if step.command:
        print(f"Next step: upgrade to {name}, from a clean git working tree:")
        print(f"  mlops-levels upgrade {shlex.quote(str(root))}")
        print(f"or, in the project, with Copier alone:\n  {step.command}")
        print(f"Preview what it changes with:\n  {step.preview}")
        return
    if generated:
        recorded = ladder[generated["level"]]
        print(
            f"This project records level {recorded['level']} ({recorded['name']}) in "
            f"{ANSWERS_FILE}, but not every criterion up to it holds."
        )
    verb = "complete" if step.level["level"] == reached else "reach"
    print(f"Next step: to {verb} {name}:")
    for result in step.todo:
        criterion = result.criterion
        if result.finding.status == UNKNOWN:
            print(
                f'  - {criterion["id"]}: answer "{criterion["question"]}" at a terminal, '
                f"or pass --answer {criterion['id']}=yes"
            )
        else:
            print(f"  - {criterion['id']}: {fix_hint(criterion['id'])}")
