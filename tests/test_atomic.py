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
