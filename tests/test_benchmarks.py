"""The benchmark harness (benchmarks/): its statistics, its report, and one real run.

No test here asserts a duration: only that the harness measures, counts and reports.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import scaffold, suites
from benchmarks.harness import (
    Case,
    CommandFailed,
    Comparison,
    Context,
    Result,
    Target,
    fastest,
    markdown,
    ratio,
    run_comparison,
)
from benchmarks.run import main


def _result(name: str, *samples: float, **fields: str) -> Result:
    return Result(name, "s", list(samples), **fields)


def test_result_reports_median_and_spread():
    result = _result("x", 3.0, 1.0, 2.0, 10.0)

    assert (result.median, result.low, result.high) == (2.5, 1.0, 10.0)
    assert _result("empty").median is None


def test_ratio_and_fastest_ignore_cases_without_samples():
    results = {"a": _result("a", 2.0), "b": _result("b", 4.0), "c": _result("c")}

    assert ratio(results["b"], results["a"]) == 2.0
    assert ratio(results["a"], results["c"]) is None
    assert fastest(results, ["b", "c", "missing"]) is results["b"]
    assert fastest(results, ["c"]) is None


def _comparison(cases: list[Case]) -> Comparison:
    return Comparison(
        name="fake",
        title="Fake",
        setup=lambda context: cases,
        targets=lambda results: [Target("goal", "measured", True)],
        ratios=lambda results: {"one": (0.5, "vs two")},
    )


def test_runs_interleave_cases_drop_the_warmup_and_stop_a_failing_case(tmp_path):
    log: list[str] = []

    def sample(name: str, value: float):
        def measure(folder: Path) -> float:
            assert folder.is_dir() and not any(folder.iterdir()), "a fresh, empty folder"
            log.append(name)
            return value

        return measure

    def broken(folder: Path) -> float:
        log.append("broken")
        raise CommandFailed("`broken` exited 1")

    cases = [
        Case("one", sample("one", 1.0)),
        Case("two", sample("two", 2.0)),
        Case("broken", broken),
        Case.skip("skipped", "nothing to run"),
    ]
    context = Context(tmp_path, {}, tmp_path)

    outcome = run_comparison(
        _comparison(cases), context, runs=2, warmup=1, progress=lambda line: None
    )

    assert log == ["one", "two", "broken", "one", "two", "one", "two"]
    results = {result.case: result for result in outcome.results}
    assert results["one"].samples == [1.0, 1.0]
    assert (results["one"].ratio, results["one"].versus) == (0.5, "vs two")
    assert "exited 1" in results["broken"].failed and results["broken"].samples == []
    assert results["skipped"].skipped == "nothing to run"
    assert outcome.targets == [Target("goal", "measured", True)]


def test_setup_failure_is_a_note_not_a_crash(tmp_path):
    def setup(context: Context) -> list[Case]:
        raise CommandFailed("`uv sync` exited 2")

    comparison = Comparison("fake", "Fake", setup, lambda results: [Target("g", "-", None)])

    outcome = run_comparison(
        comparison, Context(tmp_path, {}, tmp_path), runs=1, warmup=0, progress=print
    )

    assert outcome.results == []
    assert outcome.targets == [Target("g", "-", None)]
    assert any("uv sync" in note for note in outcome.notes)


def test_markdown_has_a_row_per_case_and_per_target(tmp_path):
    def fails(folder: Path) -> float:
        raise CommandFailed("`pytest` exited 1 in level-4/: 1 failed\nFAILED tests/test_x.py")

    cases = [
        Case("one", lambda folder: 1.25),
        Case.skip("ccds | peer", "no template"),
        Case("suite", fails),
    ]
    comparison = Comparison(
        "fake",
        "Fake",
        lambda context: cases,
        lambda results: [Target("one at most 1 s", "1.25 s", False), Target("t", "-", None)],
    )
    context = Context(tmp_path, {}, tmp_path, notes=["a note"])
    outcome = run_comparison(comparison, context, runs=1, warmup=0, progress=print)

    table = markdown([outcome], runs=1, warmup=0)

    assert "| fake | one | 1.25 s | 1.25-1.25 s |  |" in table
    assert "| fake | ccds \\| peer | - | not measured: no template |  |" in table
    assert (
        "not measured: failed: `pytest` exited 1 in level-4/: 1 failed (output in the JSON) |"
        in table
    )
    assert "FAILED tests/test_x.py" not in table
    assert "| one at most 1 s | 1.25 s | **no** |" in table
    assert "| t | - | not measured |" in table
    assert "- fake: a note" in table


def test_scaffold_target_compares_the_top_level_with_the_faster_peer():
    top = scaffold.ours(4)
    results = {
        top: _result(top, 0.6),
        scaffold.KEDRO: _result(scaffold.KEDRO, 0.5),
        scaffold.CCDS: _result(scaffold.CCDS, 0.3),
    }

    [target] = scaffold.targets(results)
    assert (target.measured, target.met) == ("2.00x ccds --no-input", False)
    assert scaffold.ratios(results)[scaffold.KEDRO] == pytest.approx((5 / 3, "vs ccds --no-input"))

    no_peer = {top: _result(top, 0.6), scaffold.CCDS: _result(scaffold.CCDS, skipped="unset")}
    assert scaffold.targets(no_peer)[0].met is None

    three = scaffold.ours(3)
    no_top = {three: _result(three, 0.45), top: _result(top, failed="exited 2")}
    no_top[scaffold.KEDRO] = _result(scaffold.KEDRO, 0.5)
    [stand_in] = scaffold.targets(no_top)
    assert stand_in.goal.startswith(f"`{three}`") and "level 4 did not generate" in stand_in.goal
    assert (stand_in.measured, stand_in.met) == ("0.90x kedro new", True)


def test_suites_target_says_when_the_top_level_has_no_tests():
    results = {suites.name(4): _result(suites.name(4), skipped="no tests at this level")}

    assert suites.targets(results) == [
        Target("level 4 test suite at most 30 s", "no tests at this level", None)
    ]

    failed = {suites.name(4): _result(suites.name(4), failed="`pytest` exited 1 in x/\nlog")}
    assert suites.targets(failed)[0].measured == "failed: `pytest` exited 1 in x/"

    not_set_up = {
        suites.name(3): _result(suites.name(3), 8.0),
        suites.name(4): _result(
            suites.name(4), skipped="setup failed: `mlops-levels new` exited 2"
        ),
    }
    [stand_in] = suites.targets(not_set_up)
    assert stand_in.goal.startswith("level 3 test suite") and stand_in.met is True


def test_unknown_comparison_is_refused(capsys):
    with pytest.raises(SystemExit) as error:
        main(["--only", "scaffold,nope"])

    assert error.value.code == 2
    assert "nope" in capsys.readouterr().err


@pytest.mark.slow
def test_one_scaffold_run_writes_json_and_explains_missing_peers(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CCDS_TEMPLATE", raising=False)

    assert (
        main(["--only", "scaffold", "--runs", "1", "--warmup", "0", "--output", str(tmp_path)]) == 0
    )

    [written] = tmp_path.glob("*.json")
    record = json.loads(written.read_text(encoding="utf-8"))
    assert record["runs"] == 1 and record["machine"]["nproc"] >= 1
    [comparison] = record["comparisons"]
    results = {result["case"]: result for result in comparison["results"]}
    assert len(results[scaffold.ours(0)]["samples"]) == 1
    # A level the template cannot generate yet is reported as failed, with the reason.
    for level in range(5):
        row = results[scaffold.ours(level)]
        assert len(row["samples"]) == 1 or "exited" in row["failed"]
    assert (
        "CCDS_TEMPLATE" in results[scaffold.CCDS]["skipped"]
        or "not installed" in (results[scaffold.CCDS]["skipped"])
    )
    assert "| scaffold | mlops-levels new --level 0 --defaults |" in capsys.readouterr().out
