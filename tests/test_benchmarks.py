"""The benchmark harness (benchmarks/): its statistics, its report, and one real run.

No test here asserts a duration: only that the harness measures, counts and reports.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from benchmarks import assess, cli_start, first_prediction, scaffold, serving, soak, suites
from benchmarks.harness import (
    Case,
    Command,
    CommandFailed,
    Comparison,
    Context,
    Result,
    Target,
    fastest,
    markdown,
    ratio,
    run_comparison,
    time_command,
)
from benchmarks.run import main
from mlops_levels.cli import main as cli_main


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


def test_cli_start_target_names_the_slowest_case_and_needs_them_all():
    fast, slow = (name for name, _args, _code in cli_start.CASES[:2])
    results = {fast: _result(fast, 0.2), slow: _result(slow, 1.4)}

    assert cli_start.targets(results) == [
        Target("every case at most 1 s", f"slowest {slow}: 1.40 s", False)
    ]
    results[slow] = _result(slow, failed="exited 1")
    assert cli_start.targets(results)[0].measured == "not measured"


def test_assess_tree_holds_the_files_asked_and_is_an_ml_repository(tmp_path, capsys):
    scripts = Path(sys.executable).parent  # this environment's mlops-levels
    context = Context(tmp_path, dict(os.environ), scripts)
    [case, monorepo] = assess.setup(context, sizes=(1_000,), monorepo=(1_000, 2))
    tree = tmp_path / "tree-1000-0"

    assert sum(1 for path in tree.rglob("*") if path.is_file()) == 1_000
    assert case.name == "assess 1,000 files" and case.measure is not None
    assert case.measure(tmp_path) > 0  # one real `assess` process, which exited 0
    assert cli_main(["assess", str(tree), "--no-input", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    passed = {c["id"] for c in report["criteria"] if c["status"] == "pass"}
    assert report["level"] == 0
    assert {"L0-ml-code", "L1-package", "L2-pipeline", "L2-tests", "L2-ci"} <= passed
    assert monorepo.name == "assess 1,000 files in 2 projects"
    assert sum(1 for path in (tmp_path / "tree-1000-2").rglob("*") if path.is_file()) == 1_000
    assert cli_main(["assess", str(tmp_path / "tree-1000-2"), "--no-input", "--json"]) == 0
    projects = json.loads(capsys.readouterr().out)["projects"]
    assert [project["path"] for project in projects] == ["group0", "group1"]


def test_assess_targets_bound_each_size_and_the_per_file_cost():
    results = {
        assess.case_name(1_000): _result(assess.case_name(1_000), 0.4),
        assess.case_name(20_000): _result(assess.case_name(20_000), 1.0),
        assess.case_name(200_000): _result(assess.case_name(200_000), 16.0),
    }

    assert assess.targets(results) == [
        Target("1,000 files in at most 1 s", "0.40 s", True),
        Target("200,000 files in at most 5 s", "16.00 s", False),
        Target("linear: per-file cost at 200,000 at most 1.5x that at 20,000", "1.60x", False),
    ]
    del results[assess.case_name(20_000)]
    assert assess.targets(results)[2].measured == "not measured"


def test_a_timed_refusal_counts_only_when_it_exits_as_expected(tmp_path):
    refusal = Command([sys.executable, "-c", "raise SystemExit(2)"], tmp_path, dict(os.environ))

    assert time_command(refusal, expect=2) > 0
    with pytest.raises(CommandFailed, match="exited 2 in"):
        time_command(refusal)
    with pytest.raises(CommandFailed, match="exited 2, not 1 in"):
        time_command(refusal, expect=1)


def test_percentile_is_the_nearest_rank():
    values = [float(n) for n in range(1, 101)]

    assert [serving.percentile(values, q) for q in (1, 50, 99, 100)] == [1.0, 50.0, 99.0, 100.0]
    assert serving.percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        serving.percentile([], 50)


def test_parse_head_reads_status_length_and_keep_alive():
    head = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 12\r\nConnection: close\r\n\r\n"

    assert serving.parse_head(head) == (503, 12, False)
    assert serving.parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n") == (200, 0, True)
    with pytest.raises(ValueError, match="Content-Length"):
        serving.parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")


def test_feature_rows_drop_the_target_and_type_each_column_as_a_whole(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("area,count,kind,target\n1001,3,a,0\n17.5,4,b,1\n2,5,c,0\n", encoding="utf-8")

    assert serving.feature_rows(data, "target", 2) == [
        {"area": 1001.0, "count": 3, "kind": "a"},
        {"area": 17.5, "count": 4, "kind": "b"},
    ]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the servers under test
    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append(self.path)
        body = b"{}" if self.path == "/ok" else b"broken"
        self.send_response(200 if self.path == "/ok" else 500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_load_sends_each_request_once_and_counts_non_2xx_as_failures():
    _Handler.seen.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ok = serving.load(port, serving.http_request("POST", "/ok", port, b"{}"), 30, 4)
        bad = serving.load(port, serving.http_request("POST", "/bad", port, b"{}"), 5, 2)
    finally:
        server.shutdown()
        server.server_close()

    assert (ok.answered, dict(ok.failures)) == (30, {})
    assert (bad.answered, dict(bad.failures)) == (0, {"500": 5})
    assert bad.first_failure == "HTTP/1.1 500 Internal Server Error: broken"
    assert _Handler.seen.count("/ok") == 30 and _Handler.seen.count("/bad") == 5


def test_a_server_runs_until_ready_and_is_stopped_on_the_way_out(tmp_path):
    stub = serving.stub_server()
    port = serving.free_port()

    with serving.running(stub.command(port), port, stub.ready_path, tmp_path / "log"):
        stats = serving.load(port, serving.http_request("POST", "/predict", port, b"[1]"), 10)
        assert stats.answered == 10

    assert serving._status(port, "/ready") is None, "nothing listens after the block"


def test_a_soak_reads_the_servers_rss_at_each_checkpoint(tmp_path):
    stub = serving.stub_server()
    port = serving.free_port()
    request = serving.http_request("POST", "/predict", port, b"[1]")

    with serving.running(stub.command(port), port, stub.ready_path, tmp_path / "log") as process:
        samples = soak.soak(port, process, request, total=300, every=100)

    assert [done for done, _ in samples] == [0, 100, 200, 300]
    assert all(rss > 1 for _, rss in samples), "a Python process holds over 1 MiB"


def test_soak_reports_each_checkpoint_and_the_growth_after_warm_up(tmp_path):
    total = soak.WARMUP + 2 * soak.EVERY
    measured = [(done, 300.0 + done / 10_000) for done in range(0, total + 1, soak.EVERY)]
    comparison = Comparison(
        "soak", "Soak", lambda context: soak.cases(lambda folder: measured, total), soak.targets
    )

    outcome = run_comparison(
        comparison, Context(tmp_path, {}, tmp_path), runs=1, warmup=0, progress=print
    )

    results = {result.case: result for result in outcome.results}
    assert results[soak.checkpoint(0)].samples == [300.0]
    assert results[soak.checkpoint(total)].samples == [300.0 + total / 10_000]
    assert results[soak.GROWTH].samples == [pytest.approx(2.0)]
    [target] = outcome.targets
    assert (target.measured, target.met) == ("+2.0 MiB", True)
    assert soak.targets({})[0].measured == "not measured"


def test_serving_targets_and_ratios_divide_by_mlflow():
    one, hundred = serving.PAYLOADS

    def row(server: str, payload: serving.Payload, metric: str, value: float) -> Result:
        name = serving.case_name(server, payload, metric)
        return Result(name, "ms", [value])

    rows = [
        row(serving.ours(3), one, "requests/s", 1000.0),
        row(serving.MLFLOW, one, "requests/s", 100.0),
        row(serving.ours(3), one, "p99", 30.0),
        row(serving.MLFLOW, one, "p99", 100.0),
    ]
    results = {result.case: result for result in rows}

    targets = serving.targets(results)
    assert [(target.measured, target.met) for target in targets] == [
        ("10.00x", True),
        ("0.30x", False),
        ("not measured", None),
        ("not measured", None),
    ]
    assert hundred.name in targets[2].goal
    ratios = serving.ratios(results)
    assert ratios[serving.case_name(serving.ours(3), one, "p99")] == pytest.approx(
        (0.3, f"vs {serving.MLFLOW}")
    )


def test_first_prediction_reports_each_step_of_one_walk_and_its_share(tmp_path):
    fp = first_prediction
    walks = iter([{fp.NEW: 1.0, fp.SYNC_STEP: 20.0, fp.REPRO: 25.0, fp.SERVE: 4.0}])

    def measure(folder: Path) -> dict[str, float]:
        try:
            return next(walks)
        except StopIteration:
            raise CommandFailed("`uv sync` exited 2") from None

    comparison = Comparison("fp", "FP", lambda context: fp.cases(measure), fp.targets, fp.ratios)
    outcome = run_comparison(
        comparison, Context(tmp_path, {}, tmp_path), runs=2, warmup=0, progress=print
    )

    results = {result.case: result for result in outcome.results}
    assert results[fp.TOTAL].samples == [50.0]
    assert results[fp.SYNC_STEP].samples == [20.0]
    assert "uv sync" in results[fp.REPRO].failed, "a failed walk fails every step of it"
    assert (results[fp.REPRO].ratio, results[fp.REPRO].versus) == (0.5, "of the total")
    [target] = outcome.targets
    assert target.met is True
    assert target.measured == (
        "50.0 s: new 1.0 s (2%), uv sync 20.0 s (40%), dvc repro 25.0 s (50%), serve 4.0 s (8%)"
    )
    slow = {fp.TOTAL: _result(fp.TOTAL, 61.0)}
    assert fp.targets(slow)[0].met is False
    assert fp.targets({})[0].measured == "not measured"


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
