"""write_atomic: the target holds the old text or the new, never a partial write; no temp files left."""

from __future__ import annotations

import pytest

from lora_repro.atomic import write_atomic


def test_writes_and_replaces(tmp_path):
    target = tmp_path / "sub" / "result.json"
    write_atomic(target, "old\n")
    write_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]


def test_failure_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "result.json"
    write_atomic(target, "old\n")

    def boom(*_args):
        raise OSError("disk full")

    monkeypatch.setattr("lora_repro.atomic.os.replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_publish_dir_replaces_on_success_and_keeps_old_on_crash(tmp_path):
    from lora_repro.atomic import publish_dir

    final = tmp_path / "model"
    with publish_dir(final) as tmp:
        (tmp / "a.txt").write_text("v1")
    with pytest.raises(RuntimeError, match="crash"):
        with publish_dir(final) as tmp:
            (tmp / "a.txt").write_text("v2")
            raise RuntimeError("crash")
    assert (final / "a.txt").read_text() == "v1"
    with publish_dir(final) as tmp:
        (tmp / "b.txt").write_text("v3")
    assert sorted(p.name for p in final.iterdir()) == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temp dirs left
