"""``train.max_steps``: a fixed number of optimizer steps across epochs, its schedule, its resume."""

from __future__ import annotations

import json

import pytest

from lora_repro.train.cell import cell_config, cell_hash, run_cell
from lora_repro.validate import OptionError

# 16 training examples, batch 8: 2 optimizer steps per epoch, so max_steps=3 is one whole epoch and
# one step of the second (train.epochs=5 must not matter)
STEPS = ["train.max_train_examples=16", "train.epochs=5", "train.max_steps=3", "logger.log_every=1"]


class Crash(RuntimeError):
    pass


def _counting(monkeypatch, crash_at: int | None = None) -> list[int]:
    """Count the optimizer steps ``train_step`` takes; raise ``Crash`` before step ``crash_at``."""
    from lora_repro.train import trainer

    real, calls = trainer.train_step, []

    def step(cfg, cell, run, gb, epoch):
        if crash_at is not None and len(calls) + 1 == crash_at:
            raise Crash(f"killed before step {crash_at}")
        calls.append(epoch)
        return real(cfg, cell, run, gb, epoch)

    monkeypatch.setattr(trainer, "train_step", step)
    return calls


def _logged_lrs(run_dir) -> list[float]:
    lines = [json.loads(x) for x in (run_dir / "train_log.jsonl").read_text().splitlines()]
    return [x["lr"] for x in lines if "lr" in x]


@pytest.fixture(scope="module")
def fixed_cell(e2e_cell, tmp_path_factory):
    """The max_steps=3 cell, run once; (overrides, run_dir, epochs of each step taken)."""
    mp = pytest.MonkeyPatch()
    try:
        calls = _counting(mp)
        overrides = e2e_cell(tmp_path_factory.mktemp("steps") / "cell", *STEPS)
        run_dir = run_cell(cell_config(overrides))
    finally:
        mp.undo()
    return overrides, run_dir, calls


@pytest.mark.slow
def test_max_steps_runs_exactly_that_many_steps_across_epochs(fixed_cell):
    _, run_dir, calls = fixed_cell
    assert calls == [1, 1, 2]  # 3 optimizer steps: 2 in epoch 1, 1 in epoch 2, none after
    result = json.loads((run_dir / "result.json").read_text())
    assert [e["epoch"] for e in result["epochs"]] == [1, 2]  # the cut-short epoch is validated too
    # fixed steps: the model after the last step is reported, not the best epoch
    assert result["best_epoch"] == 2
    assert result["validation"] == result["epochs"][-1]["validation"]
    assert "loss" in result["validation"]
    assert result["config"]["train"]["max_steps"] == 3


@pytest.mark.slow
def test_schedule_ends_at_max_steps(fixed_cell):
    # tiny profile warm-up: ceil(0.06 * 3) = 1 step; the lr of steps 0, 1, 2 is lr x (0, 1, 1/2) and
    # would be 0, 1, 2/3 if the total were 2 epochs x 2 steps; after step 3 the factor reaches 0
    from lora_repro.train.setup import lr_factor

    overrides, run_dir, _ = fixed_cell
    cfg = cell_config(overrides)
    lr = float(cfg.train.lr) * float(cfg.train.lr_scale)
    lrs = _logged_lrs(run_dir)
    assert lrs == pytest.approx([0.0, lr, lr / 2])
    assert lr_factor(3, 1, 3) == 0.0


@pytest.mark.slow
def test_resume_after_crash_gives_same_steps_and_result(fixed_cell, monkeypatch):
    overrides, reference, _ = fixed_cell
    run_dir = reference.parent / "crashed"
    again = [o if not o.startswith("run_dir=") else f"run_dir={run_dir}" for o in overrides]
    _counting(monkeypatch, crash_at=3)  # dies in epoch 2, after the epoch-1 checkpoint
    with pytest.raises(Crash):
        run_cell(cell_config(again))
    assert not (run_dir / "DONE").exists()
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["epoch-1"]
    monkeypatch.undo()
    calls = _counting(monkeypatch)
    run_cell(cell_config(again))
    assert calls == [2]  # only the one missing step, from the checkpoint's step count 2
    ours, ref = (json.loads((d / "result.json").read_text()) for d in (run_dir, reference))
    for key in ("epochs", "best_epoch", "validation", "test"):
        assert ours[key] == ref[key]


def test_max_steps_is_validated_and_hashed(e2e_cell, tmp_path):
    base = e2e_cell(tmp_path / "c")
    for bad, shown in (("0", "got 0"), ("-2", "got -2"), ("2.5", "got 2.5"), ("abc", "got 'abc'")):
        with pytest.raises(
            OptionError, match=rf"train.max_steps must be null or a positive integer.*{shown}"
        ):
            cell_config([*base, f"train.max_steps={bad}"])
    hashes = {
        cell_hash(cell_config([*base, *extra]))
        for extra in ([], ["train.max_steps=3"], ["train.max_steps=4"])
    }
    assert len(hashes) == 3
    # null is the default and leaves the cell's hash as it was before the key existed
    assert cell_hash(cell_config([*base, "train.max_steps=null"])) == cell_hash(cell_config(base))
