"""Check out the assess corpus (tests/assess_corpus.yml) from the fetched mirrors.

Each repository is fetched once, as a bare git directory under $MLOPS_LEVELS_MIRRORS
(default /work/.mirror/<owner>+<name>/repo). This script writes each one's recorded commit,
as files without git, to $MLOPS_LEVELS_CORPUS (default /work/.corpus), outside this
repository, so that the corpus test reads real trees and fetches nothing.

    uv run python tests/scripts/checkout_corpus.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

# Run as a script, the repository root is not on sys.path: `tests` is imported from it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.assess_corpus import checkout_dir, load_corpus, mirror_dir


def check_out(repo: str, commit: str) -> str:
    """Write `repo` at `commit` to its checkout folder; say what happened."""
    dest = checkout_dir(repo, commit)
    if dest.is_dir():
        return f"present  {dest}"
    mirror = mirror_dir(repo)
    if not mirror.is_dir():
        return f"MISSING  {repo}: no mirror at {mirror}; fetch it first (the search tool's fetch)"
    partial = dest.with_name(dest.name + ".partial")
    subprocess.run(["rm", "-rf", str(partial)], check=True)
    partial.mkdir(parents=True)
    absent = absent_files(mirror, commit)
    # `git archive | tar -x`: the tree at the commit, with no .git, as a clone's work tree.
    excludes = [f":(exclude,literal){path}" for path in absent]
    # git names each excluded absent blob on stderr: kept aside, shown only on a failure.
    with tempfile.TemporaryFile() as errors:
        archive = subprocess.Popen(
            ["git", "--git-dir", str(mirror), "archive", commit, "--", ".", *excludes],
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        subprocess.run(["tar", "-x", "-C", str(partial)], stdin=archive.stdout, check=True)
        if archive.wait() != 0:
            subprocess.run(["rm", "-rf", str(partial)], check=True)
            errors.seek(0)
            why = errors.read().decode(errors="replace").strip()
            return f"FAILED   {repo}@{commit} from {mirror}: {why}; fetch it again"
    partial.rename(dest)  # only a complete tree gets the final name
    left_out = f" ({len(absent)} large files absent from the mirror: {', '.join(absent)})"
    return f"written  {dest}{left_out if absent else ''}"


def absent_files(mirror: Path, commit: str) -> list[str]:
    """Paths whose blobs the snapshot lacks: a mirror may list its largest files without them.

    `git archive` would stop at the first one, so they are left out of the checkout and
    named; the judgements in tests/assess_corpus.yml never rest on them.
    """
    listing = subprocess.run(
        ["git", "--git-dir", str(mirror), "ls-tree", "-r", "-z", commit],
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8", "surrogateescape")
    blobs = [line.split("\t", 1) for line in listing.split("\0") if " blob " in line]
    objects = "\n".join(meta.split()[2] for meta, _ in blobs) + "\n"
    checked = (
        subprocess.run(
            ["git", "--git-dir", str(mirror), "cat-file", "--batch-check"],
            input=objects.encode(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .splitlines()
    )
    return [path for (_, path), line in zip(blobs, checked, strict=True) if "missing" in line]


def main() -> int:
    commits = {(entry["repo"], entry["commit"]) for entry in load_corpus()}
    lines = [check_out(repo, commit) for repo, commit in sorted(commits)]
    print("\n".join(lines))
    return 1 if any(not line.startswith(("present", "written")) for line in lines) else 0


if __name__ == "__main__":
    raise SystemExit(main())
