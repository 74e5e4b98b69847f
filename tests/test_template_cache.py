"""prepare()'s fast path: it trusts its record of the cache only while git agrees."""

from __future__ import annotations

from mlops_levels import template_source
from mlops_levels.template_source import STAMP, prepare
from tests.helpers import git


def test_repeated_prepare_skips_the_copy_and_keeps_the_tag(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_LEVELS_HOME", str(tmp_path))
    first = prepare()
    copies = []
    monkeypatch.setattr(template_source.shutil, "copytree", lambda *a, **k: copies.append(a))

    assert prepare() == first
    assert copies == []
    assert (first.path / ".git" / STAMP).read_text(encoding="utf-8").split()[1] == first.ref


def test_prepare_rebuilds_a_tag_deleted_behind_its_back(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_LEVELS_HOME", str(tmp_path))
    first = prepare()
    git(first.path, "tag", "--delete", first.ref)

    assert prepare() == first
    assert git(first.path, "tag", "--list").split() == [first.ref]


def test_prepare_takes_a_changed_template(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_LEVELS_HOME", str(tmp_path))
    prepare()
    monkeypatch.setattr(template_source, "_payload_digest", lambda: "changed")
    copies = []
    real_copytree = template_source.shutil.copytree
    monkeypatch.setattr(
        template_source.shutil,
        "copytree",
        lambda *a, **k: copies.append(a) or real_copytree(*a, **k),
    )

    prepare()

    assert copies, "a payload the stamp does not record is copied again"
