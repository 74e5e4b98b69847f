"""Tier 4: `assess` against real repositories judged by reading them (tests/assess_corpus.yml).

The checkouts live outside git, under $MLOPS_LEVELS_CORPUS; this test fetches nothing and
skips when none is present. Its targets are the issue's: over every present project,
precision >= 0.95 and recall >= 0.9 of PASS verdicts.
"""

from __future__ import annotations

import pytest

from tests.assess_corpus import (
    CHECKOUT_COMMAND,
    CRITERIA,
    load_corpus,
    project_dir,
    run_corpus,
    table,
)

PRESENT = [entry for entry in load_corpus() if project_dir(entry).is_dir()]


def test_every_project_judges_every_criterion_with_evidence_for_a_pass() -> None:
    for entry in load_corpus():
        assert list(entry["criteria"]) == CRITERIA, entry["repo"]
        for criterion_id, judgement in entry["criteria"].items():
            assert not judgement["pass"] or judgement.get("evidence"), (entry["repo"], criterion_id)


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
