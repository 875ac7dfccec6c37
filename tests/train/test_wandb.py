"""logger=wandb: an offline run in the run directory with config and metrics; a resume keeps its id."""

from __future__ import annotations

import pytest

from lora_repro.train.cell import cell_config, run_cell

pytestmark = pytest.mark.slow


def _records(run) -> bytes:
    (store,) = run.glob("run-*.wandb")  # wandb's datastore: protobuf records, strings stored as-is
    return store.read_bytes()


def test_wandb_offline_records_config_metrics_and_keeps_run_id(sst2_cell, tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)  # offline is the default
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_dir = tmp_path / "cell"
    cfg = cell_config(sst2_cell(run_dir, "logger=wandb", "logger.log_every=2", "train.epochs=1"))
    run_cell(cfg)
    run_id = (run_dir / "wandb_id").read_text().strip()
    (run,) = (run_dir / "wandb").glob(f"offline-run-*-{run_id}")
    data = _records(run)
    for text in (
        b"train/loss",
        b"validation/accuracy",
        b"test/accuracy",
        b"best_epoch",
        b"roberta-base/sst2/lora",
    ):
        assert text in data, text
    assert data.count(b"train/loss") >= 4  # 8 steps logged every 2
    # a resumed cell (no DONE yet) continues the same wandb run
    (run_dir / "DONE").unlink()
    run_cell(cfg)
    assert (run_dir / "wandb_id").read_text().strip() == run_id
    assert len(list((run_dir / "wandb").glob(f"offline-run-*-{run_id}"))) >= 1
    assert not list((run_dir / "wandb").glob("offline-run-*-[!" + run_id[0] + "]*"))
