"""The assess corpus: real repositories judged by reading them, against `assess`'s verdicts.

tests/assess_corpus.yml records, per repository (or sub-project of a monorepo), the commit
and an expert's pass/fail for every criterion with its evidence. This module runs
`mlops-levels assess PATH --no-input --json` on each checkout and scores the PASS verdicts:
precision = |tool pass and expert pass| / |tool pass|, recall = the same / |expert pass|
(unknown counts as not-pass). `uv run python -m tests.assess_corpus` prints the table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

CORPUS_FILE = Path(__file__).with_name("assess_corpus.yml")
CHECKOUT_COMMAND = "uv run python tests/scripts/checkout_corpus.py"


def load_corpus() -> list[dict]:
    return yaml.safe_load(CORPUS_FILE.read_text(encoding="utf-8"))["projects"]


def mirror_dir(repo: str) -> Path:
    root = Path(os.environ.get("MLOPS_LEVELS_MIRRORS", "/work/.mirror"))
    return root / repo.replace("/", "+") / "repo"


def checkout_dir(repo: str, commit: str) -> Path:
    # The commit is in the name, so that a newer judgement never reads an older tree.
    root = Path(os.environ.get("MLOPS_LEVELS_CORPUS", "/work/.corpus"))
    return root / f"{repo.replace('/', '+')}@{commit[:12]}"


def project_dir(entry: dict) -> Path:
    return checkout_dir(entry["repo"], entry["commit"]) / entry.get("project", ".")


def name(entry: dict) -> str:
    project = entry.get("project", ".")
    return entry["repo"] if project == "." else f"{entry['repo']}:{project}"


def assess(path: Path) -> dict:
    """The CLI's JSON for PATH: the corpus's one interface to the tool."""
    result = subprocess.run(
        [sys.executable, "-m", "mlops_levels", "assess", str(path), "--no-input", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if not result.stdout.strip():
        raise RuntimeError(
            f"assess {path} printed nothing (exit {result.returncode}): {result.stderr}"
        )
    return json.loads(result.stdout)


@dataclass
class Disagreement:
    project: str
    criterion: str
    tool: str  # the tool's status and evidence
    expert: str  # the expert's verdict and evidence or why


@dataclass
class Score:
    tool_pass: int = 0
    expert_pass: int = 0
    both_pass: int = 0

    def add(self, tool: bool, expert: bool) -> None:
        self.tool_pass += tool
        self.expert_pass += expert
        self.both_pass += tool and expert

    @property
    def precision(self) -> float:
        return self.both_pass / self.tool_pass if self.tool_pass else 1.0

    @property
    def recall(self) -> float:
        return self.both_pass / self.expert_pass if self.expert_pass else 1.0


@dataclass
class Result:
    overall: Score = field(default_factory=Score)
    by_criterion: dict[str, Score] = field(default_factory=dict)
    disagreements: list[Disagreement] = field(default_factory=list)
    levels: list[tuple[str, object, object]] = field(default_factory=list)  # project, tool, expert
    absent: list[str] = field(default_factory=list)


def judge_line(judgement: dict) -> str:
    verdict = "pass" if judgement["pass"] else "fail"
    detail = judgement.get("evidence") or judgement.get("why") or ""
    return f"{verdict} ({detail})" if detail else verdict


def score_project(entry: dict, report: dict, result: Result) -> None:
    tool = {criterion["id"]: criterion for criterion in report.get("criteria", [])}
    for criterion_id, judgement in entry["criteria"].items():
        found = tool.get(criterion_id, {"status": "absent", "evidence": "not in the output"})
        tool_pass = found["status"] == "pass"
        result.overall.add(tool_pass, judgement["pass"])
        result.by_criterion.setdefault(criterion_id, Score()).add(tool_pass, judgement["pass"])
        if tool_pass != judgement["pass"]:
            result.disagreements.append(
                Disagreement(
                    name(entry),
                    criterion_id,
                    f"{found['status']} ({found.get('evidence', '')})",
                    judge_line(judgement),
                )
            )
    result.levels.append((name(entry), report.get("level"), entry["level"]))


def run_corpus(entries: list[dict] | None = None) -> Result:
    result = Result()
    for entry in load_corpus() if entries is None else entries:
        path = project_dir(entry)
        if not path.is_dir():
            result.absent.append(name(entry))
            continue
        score_project(entry, assess(path), result)
    return result


def table(result: Result) -> str:
    rows = [
        f"{'criterion':24} {'tool':>5} {'expert':>6} {'both':>5} {'precision':>9} {'recall':>6}"
    ]
    for criterion_id, score in sorted(result.by_criterion.items()):
        rows.append(
            f"{criterion_id:24} {score.tool_pass:5} {score.expert_pass:6} {score.both_pass:5}"
            f" {score.precision:9.2f} {score.recall:6.2f}"
        )
    overall = result.overall
    rows.append(
        f"{'ALL':24} {overall.tool_pass:5} {overall.expert_pass:6} {overall.both_pass:5}"
        f" {overall.precision:9.2f} {overall.recall:6.2f}"
    )
    rows += ["", f"{'project':60} {'tool':>5} {'expert':>6}"]
    rows += [f"{project:60} {tool!s:>5} {expert!s:>6}" for project, tool, expert in result.levels]
    same = sum(tool == expert for _, tool, expert in result.levels)
    rows.append(f"levels equal: {same}/{len(result.levels)}")
    rows += ["", disagreements(result)]
    if result.absent:
        rows += ["", f"absent (run `{CHECKOUT_COMMAND}`): {', '.join(result.absent)}"]
    return "\n".join(rows)


def disagreements(result: Result) -> str:
    lines = [f"{len(result.disagreements)} disagreements (criterion, project: tool vs expert)"]
    lines += [
        f"  {item.criterion} {item.project}: tool {item.tool} vs expert {item.expert}"
        for item in result.disagreements
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(run_corpus()))
