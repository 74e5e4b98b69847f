"""Evaluate the entry criteria of levels/ against a folder: what it holds, imports and runs.

A criterion's `detect` rule lists alternatives, of these kinds:
- `files`: globs relative to the folder (`**/` spans any depth, a trailing `/` means a
  folder); a file must be readable text, so binary junk under a known name is no evidence;
- `dependencies`: distributions the code imports (sklearn is scikit-learn); declared but
  never imported, as a pinned transitive dependency is, does not count;
- `imports`: dotted modules the code imports, such as sagemaker.workflow.pipeline;
- `code`: in a file importing `module`, a call whose name matches `call` (`gated`: behind
  a comparison or a pipeline's condition step), or a line matching `text`;
- `ci_runs`: words a CI step runs, directly or through a task runner; `runs`: words any
  command runs (CI, runner tasks, Dockerfiles, DVC stages, MLproject, shell scripts);
- `tasks`: a regex that a task runner's task name matches (a `pipeline` target);
  `chained_tasks: true`: make or just targets that run Python after one another, or a
  shell script of two Python steps;
- `text`: a regex in files matching a glob (a Kubernetes manifest's `kind:`), in a file
  that also holds the regex `with`;
- `config`: a dotted key in a YAML, TOML or JSON file;
- `tests: true`: a test function that asserts something; `package: true`: importable code
  with an entry point or used modules.
One alternative found is enough, or every one with `all: true`; `all_of` lists rules
that must each hold. A criterion with a
`question` instead is put to a person.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_levels.code_rules import CodeRules
from mlops_levels.commands_run import Commands

Criterion = dict[str, Any]

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"


@dataclass(frozen=True)
class Finding:
    """A criterion's outcome, and what shows it: a file, a line, or what was looked for."""

    status: str  # PASS, FAIL or UNKNOWN
    evidence: str


class Project(CodeRules, Commands):
    """A folder being assessed, and a way to ask a person what no file can show."""

    def __init__(
        self, root: Path, ask: Callable[[Criterion], bool | None], parent: Project | None = None
    ) -> None:
        super().__init__(root, parent)
        self.ask = ask  # True, False, or None when nobody answers

    def within(self, folder: str, ask: Callable[[Criterion], bool | None]) -> Project:
        """A sub-project at `folder`, read through this project's walk and reads."""
        return Project(self.root / folder, ask, parent=self)

    def evaluate(self, criterion: Criterion) -> Finding:
        """Apply the criterion's rule from levels/: its detection, or its question."""
        if "detect" not in criterion:
            return self._answer(criterion)
        finding = self._apply(criterion["id"], criterion["detect"])
        # A question is the fallback for what the files do not show.
        if finding.status == PASS or "question" not in criterion:
            return finding
        return self._answer(criterion, looked_for=finding.evidence)

    def _apply(self, criterion_id: str, rule: dict[str, Any]) -> Finding:
        """A rule's finding; `all_of` holds rules that must each hold, as drift *and* a schedule."""
        if "all_of" in rule:
            parts = [self._apply(criterion_id, part) for part in rule["all_of"]]
            status = PASS if all(part.status == PASS for part in parts) else FAIL
            shown = [part.evidence for part in parts if part.status == status]
            return Finding(status, "; ".join(shown))
        finders: dict[str, Callable[[Any], str | None]] = {
            "files": self._find_file,
            "dependencies": self.find_imported_distribution,
            "imports": self.find_import,
            "code": self.find_code,
            "ci_runs": self.find_ci_run,
            "runs": self.find_run,
            "tasks": self.find_task,
            "chained_tasks": self.find_chained_tasks,
            "text": self._find_text,
            "config": self._find_config,
            "tests": lambda _: self.find_asserting_test(),
            "package": lambda _: self.find_package(),
            "approval_gate": self.find_deploy_gate,
        }
        found: list[str] = []
        missing: dict[str, list[Any]] = {}
        for kind, items in rule.items():
            if kind == "all":
                continue
            if kind not in finders:
                raise ValueError(f"{criterion_id}: unknown detection kind {kind!r}")
            for item in items if isinstance(items, list) else [items]:
                if evidence := finders[kind](item):
                    found.append(evidence)
                    if not rule.get("all"):
                        # One alternative is enough: the rest need not be read.
                        return Finding(PASS, evidence)
                else:
                    missing.setdefault(kind, []).append(item)
        if not missing:
            # Two globs can find the same file: say it once.
            return Finding(PASS, "; ".join(dict.fromkeys(found)))
        return Finding(FAIL, "; ".join(_describe(kind, items) for kind, items in missing.items()))

    def _answer(self, criterion: Criterion, looked_for: str = "no file can show it") -> Finding:
        answer = self.ask(criterion)
        if answer is None:
            return Finding(UNKNOWN, f"{looked_for}; not answered: {criterion['question']}")
        return Finding(PASS if answer else FAIL, f"answered {'yes' if answer else 'no'}")

    def _find_file(self, pattern: str) -> str | None:
        matches = self.glob(pattern)
        if not pattern.endswith("/"):
            matches = [path for path in matches if self.is_text(path)]
        if not matches:
            return None
        more = f" (+{len(matches) - 1} more)" if len(matches) > 1 else ""
        return matches[0] + more

    def _find_text(self, item: dict[str, str]) -> str | None:
        """A line matching `pattern` in a file matching `files` (that also holds `with`)."""
        pattern = re.compile(item["pattern"])
        also = re.compile(item.get("with", ""))
        for path in self.glob(item["files"]):
            if (found := self.locate(path, pattern)) != path and also.search(self.text(path)):
                return str(found)
        return None

    def _find_config(self, item: dict[str, str]) -> str | None:
        for path in self.glob(item["file"]):
            data = self.load(path)
            for key in item["key"].split("."):
                data = data.get(key) if isinstance(data, dict) else None
            if data is not None:
                last = re.escape(item["key"].split(".")[-1])
                return str(self.locate(path, re.compile(rf"^\s*[\"']?{last}[\"']?\s*[:=]")))
        return None


def _describe(kind: str, items: list[Any]) -> str:
    """What was looked for and not found."""
    named = ", ".join(
        " ".join(f"{k}={v}" for k, v in item.items()) if isinstance(item, dict) else str(item)
        for item in items
    )
    described = {
        "dependencies": f"no code imports {named}",
        "imports": f"no code imports {named}",
        "code": f"no code does {named}",
        "ci_runs": f"no CI step runs {named}",
        "runs": f"no command runs {named}",
        "tasks": f"no task runner has a task named {named}",
        "chained_tasks": "no task or shell script runs Python steps in order",
        "tests": "no test function asserts anything",
        "package": "no importable package with an entry point or used modules",
        "approval_gate": "no workflow shows a deploy that waits for a person's approval",
    }
    if kind == "config":
        return ", ".join(f"no {item['key']} in {item['file']}" for item in items)
    if kind == "text":
        return ", ".join(f"no {item['files']} holds {item['pattern']}" for item in items)
    return described.get(kind, f"nothing matches {named}")
