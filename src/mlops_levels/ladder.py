"""The maturity ladder, read from the template's levels/ data files."""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml

from mlops_levels.template_source import template_root

Level = dict[str, Any]


@cache
def load_ladder() -> tuple[Level, ...]:
    """Return the levels in order, 0 first, exactly as levels/level-N.yml hold them."""
    files = (template_root() / "levels").glob("level-*.yml")
    levels = sorted(
        (yaml.safe_load(path.read_text(encoding="utf-8")) for path in files),
        key=lambda level: level["level"],
    )
    if [level["level"] for level in levels] != list(range(len(levels))):
        raise RuntimeError("levels/ must hold level-0.yml, level-1.yml, ... with no gap")
    for level in levels:
        for criterion in level["criteria"]:
            if not isinstance(criterion.get("advisory", False), bool):
                raise RuntimeError(f"levels/: {criterion['id']}'s advisory must be true or false")
    return tuple(levels)


def gates(criterion: dict[str, Any]) -> bool:
    """Whether a criterion holds a level back: an advisory one is reported, never a gate."""
    return not criterion.get("advisory", False)


def describe(level: Level) -> str:
    """One line naming a level, as menus and messages show it."""
    return f"{level['level']} - {level['name']}: {level['summary']}"
