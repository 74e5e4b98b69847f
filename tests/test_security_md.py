"""Tier 1: SECURITY.md, read from the render: how to report a problem, and claims
that hold at each level.
"""

from __future__ import annotations

import pytest
import yaml

from tests.helpers import LADDER, LEVELS, REPO
from tests.security import MONITORING, PIPELINE, SERVING, project, workflows

COPIER = yaml.safe_load((REPO / "copier.yml").read_text())


# --- SECURITY.md ---------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_security_md_comes_with_the_pipeline_level_and_the_readme_points_to_it(render, level):
    root = render(level)

    assert (root / "SECURITY.md").exists() == (level in PIPELINE)
    assert ("`SECURITY.md`" in (root / "README.md").read_text()) == (level in PIPELINE)


REPORTING = {
    "github": "GitHub's private vulnerability reporting",
    "gitlab": "open a confidential issue",
    "none": COPIER["author_email"]["default"],
}


@pytest.mark.parametrize("provider", REPORTING)
@pytest.mark.parametrize("level", PIPELINE)
def test_security_md_says_how_to_report_a_problem_privately(render, level, provider):
    text = " ".join((project(render, level, provider) / "SECURITY.md").read_text().split())

    assert REPORTING[provider] in text
    assert COPIER["author_email"]["default"] in text  # the fallback everywhere


@pytest.mark.parametrize("provider", REPORTING)
@pytest.mark.parametrize("level", PIPELINE)
def test_security_md_claims_only_what_the_level_has(render, level, provider):
    root = project(render, level, provider)
    text = " ".join((root / "SECURITY.md").read_text().split())

    assert f"level {level} ({LADDER[level]['name']})" in text
    claims = {
        "Every third-party action is pinned to a full commit SHA": provider == "github",
        "pip-audit, at a pinned version": provider != "none",
        "`serving.max_request_bytes`": level in SERVING,
        "`SKOPS_TRUSTED_TYPES`": True,
        "runs as `app`": level in SERVING,
        "no reload or admin endpoint": level in MONITORING,
        "`$PREDICTION_LOG_URL`": level in MONITORING,
    }
    assert {claim: claim in text for claim in claims} == claims
    if provider == "github":
        # The step it names is there.
        _, workflow = workflows(root)["ci.yml"]
        step_names = {step.get("name") for step in workflow["jobs"]["test"]["steps"]}
        assert '"Audit the dependencies" step of the Tests job' in text
        assert "Audit the dependencies" in step_names
        assert workflow["jobs"]["test"]["name"] == "Tests"
