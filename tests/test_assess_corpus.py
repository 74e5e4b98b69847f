"""Tier 4: `assess` against real repositories judged by reading them (tests/assess_corpus.yml).

The checkouts live outside git, under $MLOPS_LEVELS_CORPUS; this test fetches nothing and
skips when none is present. Its targets are the issue's: over every present project,
precision >= 0.95 and recall >= 0.9 of PASS verdicts.
"""

from __future__ import annotations

import pytest

from tests.assess_corpus import CHECKOUT_COMMAND, load_corpus, project_dir, run_corpus, table
from tests.helpers import LADDER

CORPUS = load_corpus()
PRESENT = [entry for entry in CORPUS if project_dir(entry).is_dir()]


def expert_level(entry: dict) -> int | None:
    """The highest level whose non-advisory criteria, and all below, the expert passed."""
    reached = None
    for level in LADDER:
        gating = [c["id"] for c in level["criteria"] if not c.get("advisory")]
        if not all(entry["criteria"][criterion_id]["pass"] for criterion_id in gating):
            break
        reached = level["level"]
    return reached


@pytest.mark.parametrize(
    "entry", CORPUS, ids=lambda entry: f"{entry['repo']}:{entry.get('project', '.')}"
)
def test_every_criterion_is_judged_with_evidence_and_the_level_follows(entry: dict) -> None:
    ids = [criterion["id"] for level in LADDER for criterion in level["criteria"]]
    assert list(entry["criteria"]) == ids
    unproven = [
        i
        for i, judgement in entry["criteria"].items()
        if judgement["pass"] and not judgement.get("evidence")
    ]
    assert not unproven, "a pass needs its evidence"
    assert entry["level"] == expert_level(entry)


@pytest.mark.skipif(not PRESENT, reason=f"no corpus checkout is present: run `{CHECKOUT_COMMAND}`")
def test_assess_agrees_with_the_expert_on_real_repositories() -> None:
    result = run_corpus(PRESENT)
    overall = result.overall
    if overall.precision < 0.95 or overall.recall < 0.9:
        pytest.fail(
            f"precision {overall.precision:.2f} (target 0.95), recall {overall.recall:.2f}"
            f" (target 0.9) over {len(PRESENT)} projects\n{table(result)}",
            pytrace=False,
        )


@pytest.mark.skipif(not PRESENT, reason=f"no corpus checkout is present: run `{CHECKOUT_COMMAND}`")
@pytest.mark.parametrize(
    "entry", PRESENT, ids=lambda entry: f"{entry['repo']}:{entry.get('project', '.')}"
)
def test_each_pass_evidence_names_a_file_and_line_of_the_checkout(entry: dict) -> None:
    root = project_dir(entry)
    for criterion_id, judgement in entry["criteria"].items():
        if not judgement["pass"]:
            continue
        path, _, line = judgement["evidence"].partition(":")
        assert (root / path).exists(), (criterion_id, path)
        if line:
            lines = (root / path).read_text(encoding="utf-8", errors="replace").splitlines()
            assert 1 <= int(line) <= len(lines), (criterion_id, judgement["evidence"])
