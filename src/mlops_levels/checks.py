"""The checks `mlops-levels assess` runs: one per entry criterion in levels/, made of its data.

A criterion in levels/level-N.yml is its whole check, as in repo-review: the
`id` it is reported under, the `sentence` that must hold, the rule that shows
it (a `detect` rule of files, dependencies, CI runs or config keys, or a
`question` put to a person), and the `hint` that says what to do when it does
not hold. A new criterion is one entry there and nothing here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from mlops_levels.code_rules import call_literals
from mlops_levels.detect import Criterion, Finding, Project
from mlops_levels.ladder import Level, load_ladder


@dataclass(frozen=True)
class Check:
    """One criterion's check: its rule from levels/, and its fix hint as one line."""

    id: str
    hint: str
    criterion: Criterion

    def run(self, project: Project) -> Finding:
        return project.evaluate(self.criterion)


def build_checks(ladder: Iterable[Level]) -> dict[str, Check]:
    """The check of every criterion, by id; refuse a ladder that cannot say what to fix."""
    checks: dict[str, Check] = {}
    for level in ladder:
        for criterion in level["criteria"]:
            criterion_id = criterion["id"]
            if criterion_id in checks:
                raise ValueError(f"levels/: two criteria have the id {criterion_id}")
            hint = " ".join(str(criterion.get("hint") or "").split())
            if not hint:
                raise ValueError(
                    f"levels/level-{level['level']}.yml: criterion {criterion_id} needs a "
                    "hint: what to do when it does not hold"
                )
            for item in _code_rules(criterion.get("detect", {})):
                if "call" in item:
                    call_literals(item["call"])  # refuses a call that is not names
            checks[criterion_id] = Check(criterion_id, hint, criterion)
    return checks


def _code_rules(rule: dict) -> list[dict]:
    """The `code` items of a rule, and of the rules its `all_of` holds."""
    items = list(rule.get("code", []))
    for part in rule.get("all_of", []):
        items += _code_rules(part)
    return items


@cache
def all_checks() -> dict[str, Check]:
    """The checks of the template's own levels/."""
    return build_checks(load_ladder())


def run_check(project: Project, criterion: Criterion) -> Finding:
    """The finding of a criterion's check."""
    return all_checks()[criterion["id"]].run(project)


def fix_hint(criterion_id: str) -> str:
    """What to do when the criterion does not hold, as one line."""
    return all_checks()[criterion_id].hint
