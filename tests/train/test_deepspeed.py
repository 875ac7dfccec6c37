"""DeepSpeed ZeRO-2 through `accelerate launch` on two CPU processes: same result as one process,
per-rank optimizer checkpoints that resume after a SIGKILL, and clear refusals (ZeRO-3: test_sharded.py)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from lora_repro.train import checkpoint as ckpt
from lora_repro.train.cell import cell_config, run_cell
from lora_repro.train.setup import load_whole_under_zero3
from lora_repro.train.trainer import configure_deepspeed

pytestmark = pytest.mark.slow
ZERO2 = ["accelerate.num_processes=2", "accelerate.config_file=configs/accelerate/cpu_deepspeed_zero2.yaml"]


def _result(run_dir):
    return json.loads((run_dir / "result.json").read_text())


def _metrics(run_dir):
    r = _result(run_dir)
    return r["epochs"], r["validation"], r["test"], r["best_epoch"]


@pytest.fixture(scope="module")
def one_process(sst2_cell, tmp_path_factory):
    return run_cell(cell_config(sst2_cell(tmp_path_factory.mktemp("one") / "run", "train.num_threads=1")))


@pytest.fixture(scope="module")
def zero2(sst2_cell, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("zero2") / "run"
    run_cell(
        cell_config(sst2_cell(run_dir, *ZERO2, "train.num_threads=1", "checkpoint.keep_after_done=true"))
    )
    return run_dir


def test_zero2_on_two_processes_matches_one_process(one_process, zero2):
    one, two = _result(one_process), _result(zero2)
    assert two["config_hash"] == one["config_hash"]
    starts = [json.loads(x) for x in (zero2 / "train_log.jsonl").read_text().splitlines() if '"start"' in x]
    assert [s["num_processes"] for s in starts] == [2]  # rank 0 alone writes, and knows there are two
    assert [s["parallel"] for s in starts] == ["deepspeed-zero2"]
    for e1, e2 in zip(one["epochs"], two["epochs"], strict=True):
        assert e2["train_loss"] == pytest.approx(e1["train_loss"], rel=1e-4)
        assert e2["validation"]["loss"] == pytest.approx(e1["validation"]["loss"], rel=1e-4)
        assert e2["validation"]["accuracy"] == pytest.approx(e1["validation"]["accuracy"], abs=1e-9)
    assert two["test"] == pytest.approx(one["test"], rel=1e-6)
    # each rank wrote its own optimizer partition, next to rank 0's full trainable weights
    last = ckpt.epoch_dirs(zero2)[-1][1]
    names = sorted(p.name for p in last.iterdir())
    assert {"optimizer-rank0.safetensors", "optimizer-rank1.safetensors", "trainable.safetensors"} <= set(
        names
    )
    meta = json.loads((last / "state.json").read_text())
    assert meta["optimizer"] == {"sharded": True, "world_size": 2}
    assert (zero2 / "adapter" / "adapter_model.safetensors").is_file()


def test_zero2_with_gradient_accumulation_matches_one_process(one_process, sst2_cell, tmp_path):
    """Two micro-batches per rank and step: the trainer marks the boundary, DeepSpeed reduces once."""
    run_dir = run_cell(
        cell_config(sst2_cell(tmp_path / "ga", *ZERO2, "train.grad_accum=2", "train.num_threads=1"))
    )
    one, two = _result(one_process), _result(run_dir)
    for e1, e2 in zip(one["epochs"], two["epochs"], strict=True):
        assert e2["train_loss"] == pytest.approx(e1["train_loss"], rel=1e-4)
        assert e2["validation"]["loss"] == pytest.approx(e1["validation"]["loss"], rel=1e-4)


def test_zero2_resumes_after_sigkill_with_the_same_result(sst2_cell, kill_in_epoch_two, tmp_path):
    longer = ["train.max_train_examples=320", "train.num_threads=1", "logger.log_every=1", *ZERO2]
    reference = run_cell(cell_config(sst2_cell(tmp_path / "reference", *longer)))
    run_dir = tmp_path / "killed"
    overrides = sst2_cell(run_dir, *longer)
    kill_in_epoch_two(overrides, run_dir)  # the launcher and both ranks
    assert not (run_dir / "DONE").exists() and not (run_dir / "result.json").exists()
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["epoch-1"]
    run_cell(cell_config(overrides))
    assert _metrics(run_dir) == _metrics(reference)


def test_sharded_checkpoint_needs_the_same_number_of_processes(zero2):
    path = ckpt.epoch_dirs(zero2)[-1][1]
    with pytest.raises(ValueError, match="optimizer partitions of 2 processes, this run has 1"):
        ckpt.load_checkpoint(path, torch.nn.Linear(1, 1), None, rank=0, world=1, sharded=True)
    with pytest.raises(ValueError, match="written with a sharded optimizer"):
        ckpt.load_checkpoint(path, torch.nn.Linear(1, 1), None)


def _deepspeed(plugin):
    return SimpleNamespace(
        distributed_type=SimpleNamespace(value="DEEPSPEED"), state=SimpleNamespace(deepspeed_plugin=plugin)
    )


def test_what_deepspeed_cannot_be_given_is_refused_with_a_clear_error():
    cfg = SimpleNamespace(train=SimpleNamespace(batch_size=8, grad_accum=1, max_grad_norm=1.0))
    zero3_init = SimpleNamespace(zero_stage=3, zero3_init_flag=True, deepspeed_config={})
    with pytest.raises(ValueError, match="zero3_init_flag=true: .* allowed: false"):
        load_whole_under_zero3(_deepspeed(zero3_init))
    with pytest.raises(ValueError, match="zero_stage=4; allowed: 0, 1, 2, 3"):
        configure_deepspeed(_deepspeed(SimpleNamespace(zero_stage=4, deepspeed_config={})), cfg, 2)
    zero3 = SimpleNamespace(zero_stage=3, zero3_init_flag=False, deepspeed_config={})
    assert configure_deepspeed(_deepspeed(zero3), cfg, 2) is True
    with_scheduler = SimpleNamespace(zero_stage=2, deepspeed_config={"scheduler": {"type": "WarmupLR"}})
    ds_sched = SimpleNamespace(
        distributed_type=SimpleNamespace(value="DEEPSPEED"),
        state=SimpleNamespace(deepspeed_plugin=with_scheduler),
    )
    with pytest.raises(ValueError, match="names a scheduler; the trainer brings its own linear schedule"):
        configure_deepspeed(ds_sched, cfg, 2)
    plugin2 = SimpleNamespace(zero_stage=2, deepspeed_config={})
    zero2 = SimpleNamespace(
        distributed_type=SimpleNamespace(value="DEEPSPEED"), state=SimpleNamespace(deepspeed_plugin=plugin2)
    )
    assert configure_deepspeed(zero2, cfg, 2) is True
    assert plugin2.deepspeed_config == {
        "train_micro_batch_size_per_gpu": 4, "gradient_accumulation_steps": 1, "train_batch_size": 8,
        "gradient_clipping": 1.0,
    }  # fmt: skip
    ddp = SimpleNamespace(distributed_type=SimpleNamespace(value="MULTI_GPU"))
    assert configure_deepspeed(ddp, cfg, 2) is False


def test_accelerate_deepspeed_is_merged_into_the_deepspeed_config():
    from omegaconf import OmegaConf

    extra = {"zero_optimization": {"stage3_param_persistence_threshold": 0}, "wall_clock_breakdown": True}
    cfg = OmegaConf.create({"train": {"batch_size": 8, "grad_accum": 1, "max_grad_norm": None},
                            "accelerate": {"deepspeed": extra}})  # fmt: skip
    plugin = SimpleNamespace(
        zero_stage=3, deepspeed_config={"zero_optimization": {"stage": 3, "overlap_comm": False}}
    )
    configure_deepspeed(_deepspeed(plugin), cfg, 2)
    assert plugin.deepspeed_config["zero_optimization"] == {
        "stage": 3, "overlap_comm": False, "stage3_param_persistence_threshold": 0,
    }  # fmt: skip
    assert plugin.deepspeed_config["wall_clock_breakdown"] is True
    assert plugin.deepspeed_config["train_micro_batch_size_per_gpu"] == 4
    assert plugin.deepspeed_config["gradient_clipping"] == 0.0
    owned = OmegaConf.create({"train": cfg.train, "accelerate": {"deepspeed": {"gradient_clipping": 5.0}}})
    with pytest.raises(ValueError, match="accelerate.deepspeed.gradient_clipping: the trainer sets it"):
        configure_deepspeed(_deepspeed(SimpleNamespace(zero_stage=2, deepspeed_config={})), owned, 2)


def test_nested_state_round_trips_through_safetensors_and_json(tmp_path):
    class Scaler:  # stands for DeepSpeed's loss scaler: not JSON, taken from the live optimizer
        pass

    live_scaler = Scaler()
    state = {
        "base": {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.arange(4.0)}}, "groups": [{"lr": 0.1, "betas": (0.9, 0.99)}]},
        "flat": [torch.ones(2, 3)],
        "scaler": live_scaler,
        "stage": None,
        "name": "x",
    }  # fmt: skip
    ckpt.save_rank_state(tmp_path, 1, state)
    live = {**state, "scaler": live_scaler, "base": {"state": {}, "groups": [{}]}}
    back = ckpt.load_rank_state(tmp_path, 1, live)
    assert back["scaler"] is live_scaler
    assert back["base"]["state"][0]["exp_avg"].tolist() == [0.0, 1.0, 2.0, 3.0]  # int key kept
    assert back["base"]["groups"][0]["betas"] == (0.9, 0.99)  # tuple kept
    assert torch.equal(back["flat"][0], torch.ones(2, 3))
    assert back["stage"] is None and back["name"] == "x"
    with pytest.raises(ValueError, match="expected a live Scaler"):
        ckpt.load_rank_state(tmp_path, 1, {**live, "scaler": 3})
    assert not any(p.suffix in (".pt", ".bin", ".pkl") for p in tmp_path.iterdir())
