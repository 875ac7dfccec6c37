"""One tiny E2E cell end to end: files, skip when DONE, same seed twice, NaN, resume after SIGKILL."""

from __future__ import annotations

import json
import time

import pytest
from safetensors.torch import load_file

from lora_repro.train.cell import cell_config, cell_hash, run_cell

pytestmark = pytest.mark.slow
CONTRACT_KEYS = {
    "config", "config_hash", "cell", "params", "epochs", "best_epoch", "validation", "test",
    "wall_time_s", "peak_memory_mb", "environment", "git_commit",
}  # fmt: skip


@pytest.fixture(scope="module")
def done_cell(e2e_cell, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("e2e") / "cell"
    cfg = cell_config(e2e_cell(run_dir))
    return cfg, run_cell(cfg)


def test_cell_leaves_result_done_adapter_and_outputs(done_cell):
    cfg, run_dir = done_cell
    assert (run_dir / "DONE").is_file()
    assert not (run_dir / "checkpoints").exists()  # removed once DONE (checkpoint.keep_after_done=false)
    result = json.loads((run_dir / "result.json").read_text())
    assert set(result) == CONTRACT_KEYS
    assert result["config_hash"] == cell_hash(cfg)
    assert result["cell"] == {"model": "gpt2-medium", "task": "e2e", "method": "lora", "seed": 1}
    env = result["environment"]
    import tokenizers
    import transformers

    assert env["packages"]["transformers"] == transformers.__version__
    assert env["packages"]["tokenizers"] == tokenizers.__version__
    assert {"torch", "datasets", "accelerate"} <= set(env["packages"])
    assert env["device"]["kind"] == "cpu" and env["device"]["count"] >= 1 and env["device"]["name"]
    assert [e["epoch"] for e in result["epochs"]] == [1, 2]
    losses = [e["validation"]["loss"] for e in result["epochs"]]
    assert result["validation"]["loss"] == min(losses)
    assert result["best_epoch"] == 1 + losses.index(min(losses))
    assert {"BLEU", "NIST", "ROUGE_L", "CIDEr"} <= set(result["test"])
    # LoRA r=4 on q and v of 2 GPT-2 blocks of width 32: 2 * 2 * (32*4 + 4*32) = 1024
    assert result["params"]["adapter"] == 1024 and result["params"]["trainable"] == 1024
    tensors = load_file(str(run_dir / "adapter" / "adapter_model.safetensors"))
    assert sum(t.numel() for t in tensors.values()) == 1024
    preds = [json.loads(line) for line in (run_dir / "predictions_test.jsonl").read_text().splitlines()]
    assert len(preds) == 6 and all(isinstance(p["prediction"], str) and p["references"] for p in preds)
    hyps = (run_dir / "hypotheses_test.txt").read_text().splitlines()
    assert hyps == [p["prediction"].replace("\n", " ") for p in preds]


def test_done_cell_is_skipped(done_cell):
    cfg, run_dir = done_cell
    before = (run_dir / "result.json").stat().st_mtime_ns
    t0 = time.perf_counter()
    assert run_cell(cfg) == run_dir
    assert time.perf_counter() - t0 < 1.0
    assert (run_dir / "result.json").stat().st_mtime_ns == before


def _metrics(run_dir):
    r = json.loads((run_dir / "result.json").read_text())
    return r["epochs"], r["best_epoch"], r["test"]


def test_same_seed_gives_identical_result(done_cell, e2e_cell, tmp_path):
    _, first = done_cell
    again = run_cell(cell_config(e2e_cell(tmp_path / "again")))
    assert _metrics(again) == _metrics(first)


def test_nan_loss_stops_without_done(e2e_cell, tmp_path, monkeypatch):
    import torch

    from lora_repro.train import trainer
    from lora_repro.train.setup import TrainingDiverged

    real = trainer.compute_loss
    monkeypatch.setattr(trainer, "compute_loss", lambda *a, **k: real(*a, **k) * torch.tensor(float("nan")))
    run_dir = tmp_path / "nan"
    with pytest.raises(TrainingDiverged, match="loss is nan at epoch 1, step 1"):
        run_cell(cell_config(e2e_cell(run_dir)))
    assert not (run_dir / "DONE").exists() and not (run_dir / "result.json").exists()


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(done_cell, e2e_cell, kill_in_epoch_two, tmp_path):
    _, reference = done_cell
    run_dir = tmp_path / "killed"
    overrides = e2e_cell(run_dir, "train.num_threads=1", "logger.log_every=1")
    kill_in_epoch_two(overrides, run_dir)
    assert not (run_dir / "DONE").exists() and not (run_dir / "result.json").exists()
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["epoch-1"]
    run_cell(cell_config(overrides))
    assert _metrics(run_dir) == _metrics(reference)
