"""Where the template lives, and the tagged git copy of it that Copier reads.

Copier can only update a project from a git repository with version tags,
and it records that repository's location in the project's answers file. So
the CLI keeps the template it carries (in the wheel, or in this checkout) as a
git repository in a cache folder, one tag per template version, and records
the folder as `~/...`: Copier expands the `~`, so a project generated on one
machine upgrades on another that has the same CLI version.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from mlops_levels import __version__, git
from mlops_levels.errors import Failed

# What a template is made of; everything else in the checkout is the CLI's.
PAYLOAD = ("copier.yml", "template", "levels", "includes")
DEFAULT_HOME = "~/.cache/mlops-levels"
# In the cache repository's .git: the payload digest, tag and tree the last prepare() left.
STAMP = "mlops-levels-payload"
IDENTITY = ("mlops-levels", "mlops-levels@localhost")


@dataclass(frozen=True)
class TemplateSource:
    """A template repository as Copier should record it, and the tag to use."""

    url: str  # as written into answers files: may start with "~"
    ref: str | None  # a tag; None: the newest

    @property
    def path(self) -> Path:
        return Path(self.url).expanduser()


@cache
def template_root() -> Path:
    """The folder holding copier.yml: packaged in the wheel, or this checkout."""
    package_dir = Path(__file__).parent
    for root in (package_dir / "_template", package_dir.parents[1]):
        if (root / "copier.yml").is_file():
            return root
    raise Failed("mlops-levels is installed without its template; reinstall it.")


def cache_url() -> str:
    """The cache repository's location, `~`-relative unless MLOPS_LEVELS_HOME is set."""
    home = os.environ.get("MLOPS_LEVELS_HOME", DEFAULT_HOME)
    return f"{home.rstrip('/')}/template"


def prepare() -> TemplateSource:
    """Bring the cache repository up to this CLI's template and return its tag.

    The release tag is `v<version>`. A checkout whose template differs from
    what that tag holds (work in progress) gets `v<version>+<tree>` instead,
    so a tag never changes under a project that recorded it.
    """
    url = cache_url()
    repo = Path(url).expanduser()
    digest = _payload_digest()
    stamp = repo / ".git" / STAMP
    # Fast path, taken on every call but the first of a template version: the cache
    # already holds this payload under a tag. Copying it and asking git again cost a
    # copy of the template and five git processes on every `new` and `upgrade`.
    recorded = stamp.read_text(encoding="utf-8").split() if stamp.is_file() else []
    match recorded:
        case [stamped, tag, tree] if stamped == digest and _tree(repo, tag) == tree:
            return TemplateSource(url=url, ref=tag)
    try:
        repo.mkdir(parents=True, exist_ok=True)
        _copy_payload(repo)
    except OSError as error:
        raise Failed(
            f"Cannot write the template cache {repo}: {error.strerror or error}. Make it "
            "writable, or set MLOPS_LEVELS_HOME to a folder you can write."
        ) from error
    try:
        tag, tree = _commit_and_tag(repo)
    except Failed as error:
        raise Failed(
            f"{error}\nThat folder is the template cache: delete it to rebuild it."
        ) from error
    stamp.write_text(f"{digest} {tag} {tree}\n", encoding="utf-8")
    return TemplateSource(url=url, ref=tag)


def _commit_and_tag(repo: Path) -> tuple[str, str]:
    """Commit the payload in the cache repository and tag it; the tag and its tree."""
    if not (repo / ".git").is_dir():
        git.init(repo)
    if git.status(repo):
        git.commit(repo, f"mlops-levels {__version__}", identity=IDENTITY)
    tree = git.git(repo, "rev-parse", "HEAD^{tree}").strip()
    tag = f"v{__version__}"
    if _tree(repo, tag) not in (None, tree):
        tag = f"{tag}+{tree[:12]}"
    if _tree(repo, tag) is None:
        git.tag(repo, tag, f"mlops-levels {tag}", IDENTITY)
    return tag, tree


def _tree(repo: Path, tag: str) -> str | None:
    return git.resolve(repo, f"{tag}^{{tree}}")


def _copy_payload(repo: Path) -> None:
    """Replace the cache repository's files with this CLI's template files.

    Everything but .git goes first: a folder an older CLI's template had
    (hooks/, before 0.2.0) must not linger in the new version's commit.
    """
    for target in repo.iterdir():
        if target.name == ".git":
            continue
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    for name in PAYLOAD:
        source = template_root() / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, repo / name)


def _payload_digest() -> str:
    """A hash of the template files that prepare() copies: their paths, modes and bytes."""
    root = template_root()
    files = []
    for name in PAYLOAD:
        path = root / name
        found = path.rglob("*") if path.is_dir() else [path]
        files += [file for file in found if file.is_file() and "__pycache__" not in file.parts]
    digest = hashlib.sha256()
    for file in sorted(files):
        data = file.read_bytes()
        header = f"{file.relative_to(root).as_posix()}\0{file.stat().st_mode:o}\0{len(data)}\0"
        digest.update(header.encode())
        digest.update(data)
    return digest.hexdigest()
