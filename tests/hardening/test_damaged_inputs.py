"""Damaged inputs end in one line naming the file and what to do; written files follow the umask."""

from __future__ import annotations

import json
import os
import stat

import pytest

from lora_repro.atomic import publish_dir, write_atomic
from lora_repro.cli import main


def err_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err, err
    return err


def test_score_refuses_a_prediction_outside_the_label_set(tmp_path, capsys):
    (tmp_path / "p.txt").write_text("1\n7\n0\n")
    (tmp_path / "r.txt").write_text("1\n0\n0\n")
    argv = ["score", "task=sst2", f"predictions={tmp_path / 'p.txt'}", f"references={tmp_path / 'r.txt'}"]
    assert main(argv) == 2
    assert f"{tmp_path / 'p.txt'} line 2: 7 is not a label of sst2; allowed: class ids 0..1" in err_line(
        capsys
    )
    (tmp_path / "p.txt").write_text("1\nneutral\n0\n")  # a name only MNLI's verbalised labels may use
    assert main(argv) == 2 and "line 2: 'neutral' is not a label of sst2" in err_line(capsys)
    (tmp_path / "p.txt").write_text("2\nneutral\n0\n")
    assert main([*argv[:1], "task=mnli", *argv[2:]]) == 0  # MNLI: 3 classes, names allowed


def test_the_label_sets_agree_with_the_task_schemas():
    from lora_repro.metrics.glue import GLUE_CLASSES
    from lora_repro.tasks.schemas import GLUE_LABELS

    assert {k: (list(v) if v else None) for k, v in GLUE_CLASSES.items()} == GLUE_LABELS


@pytest.mark.parametrize("name, damage", [("state.json", 20), ("trainable.safetensors", 30)])
def test_a_truncated_checkpoint_names_the_file_and_what_to_do(tmp_path, name, damage):
    from safetensors.torch import save_file

    from lora_repro.train.checkpoint import load_checkpoint

    ckpt = tmp_path / "checkpoints" / "epoch-1"
    ckpt.mkdir(parents=True)
    (ckpt / "state.json").write_text(json.dumps({"state": {"epoch": 1}, "optimizer": {"order": []}}))
    import torch

    save_file({"w": torch.zeros(3)}, str(ckpt / "trainable.safetensors"))
    os.truncate(ckpt / name, damage)
    with pytest.raises(
        ValueError, match=f"{ckpt / name} is damaged .*: move {ckpt} out of checkpoints/"
    ) as err:
        load_checkpoint(ckpt, torch.nn.Linear(1, 1), None)
    assert "\n" not in str(err.value)


def test_a_run_dir_that_is_a_file_or_read_only_is_one_line(tmp_path, sst2, capsys, monkeypatch, snapshot):
    target = tmp_path / "file"
    target.write_text("not a directory\n")
    assert main(["train", *sst2(target)]) == 2
    assert f"run_dir={target} is a file, not a directory" in err_line(capsys)
    assert target.read_text() == "not a directory\n"
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: make os.access answer as it does for a user
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m: False if str(p) == str(ro) else real(p, m))
    assert main(["train", *sst2(ro)]) == 2
    assert f"run_dir={ro} is not writable: fix its permissions" in err_line(capsys)
    assert snapshot(ro) == {}


@pytest.mark.parametrize(
    "task, split_file, content, message",
    [
        ("sst2", "validation.csv", b"idx,sentence,label\n", "cannot read it"),
        ("sst2", "validation.csv", b"idx,sentence,label\n0,caf\xe9 ok,1\n", "UnicodeDecodeError"),
        (
            "e2e",
            "test.csv",
            b"meaning_representation,human_reference\nname[X],\nname[Y],Y.\n",
            "row 0 has no 'human_reference'",
        ),
        ("sst2", "validation.parquet", b"\x00garbage", "Parquet magic bytes not found"),
    ],
    ids=["zero-rows", "latin-1", "empty-reference", "not-parquet"],
)
def test_a_damaged_task_source_is_one_line(tmp_path, cache_dir, capsys, task, split_file, content, message):
    (tmp_path / split_file).write_bytes(content)
    assert main(["data", f"task={task}", "split=test", "n=1", f"task.source={tmp_path}"]) == 2
    line = err_line(capsys)
    assert message in line and f"source '{tmp_path}'" in line


@pytest.mark.parametrize("mask", [0o022, 0o007])
def test_written_files_and_directories_follow_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        write_atomic(tmp_path / "result.json", "{}\n")
        with publish_dir(tmp_path / "model") as tmp:
            (tmp / "weights.bin").write_bytes(b"0")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "result.json").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "model").stat().st_mode) == 0o777 & ~mask


def test_a_finished_cell_is_readable_by_the_group_and_others(finished):
    """The run was written under the test process's umask (022 here): 0644 files, 0755 dirs."""
    mask = os.umask(0o022)
    os.umask(mask)
    for path in [finished, *finished.rglob("*")]:
        want = (0o777 if path.is_dir() else 0o666) & ~mask
        assert stat.S_IMODE(path.stat().st_mode) == want, path
