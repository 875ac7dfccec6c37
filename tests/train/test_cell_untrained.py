"""``train.epochs=0``: a cell with no training step (the "untrained" column of `lora-repro learnability`).

It must evaluate the test role of the model exactly as it was built (the same predictions as a cell
whose learning rate is 0, the convention docs/training.md used before) and write a finished result.
"""

from __future__ import annotations

import json

import pytest

from lora_repro.train.cell import cell_config, run_cell

pytestmark = pytest.mark.slow


def _result(run_dir):
    return json.loads((run_dir / "result.json").read_text())


def _predictions(run_dir):
    lines = (run_dir / "predictions_test.jsonl").read_text().splitlines()
    return [json.loads(line)["prediction"] for line in lines]


def test_zero_epochs_evaluates_the_untrained_model(sst2_cell, tmp_path):
    untrained = run_cell(cell_config(sst2_cell(tmp_path / "zero", "train.epochs=0", "train.num_threads=1")))
    r = _result(untrained)
    assert r["epochs"] == [] and r["best_epoch"] is None and r["validation"] == {}
    assert set(r["test"]) == {"accuracy"} and 0.0 <= r["test"]["accuracy"] <= 100.0
    assert (untrained / "DONE").is_file() and len(_predictions(untrained)) == 6
    log = [json.loads(line) for line in (untrained / "train_log.jsonl").read_text().splitlines()]
    assert [rec.get("event") for rec in log] == ["start"]  # no step, no epoch record
    # the same model as one epoch at learning rate 0: every prediction equal
    lr0_cell = sst2_cell(tmp_path / "lr0", "train.epochs=1", "train.lr_scale=0", "train.num_threads=1")
    lr0 = run_cell(cell_config(lr0_cell))
    assert _result(lr0)["epochs"] and _predictions(lr0) == _predictions(untrained)
    assert _result(lr0)["test"] == r["test"]


def test_negative_epochs_are_refused(sst2_cell, tmp_path):
    with pytest.raises(ValueError, match="train.epochs must be a non-negative integer"):
        cell_config(sst2_cell(tmp_path / "neg", "train.epochs=-1"))
