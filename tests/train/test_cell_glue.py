"""GLUE cells on an encoder: one process vs `accelerate launch` with two, MNLI -> MRPC initialisation."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from lora_repro.train.cell import cell_config, cell_run_dir, init_adapter_dir, run_cell

pytestmark = pytest.mark.slow


def _result(run_dir):
    return json.loads((run_dir / "result.json").read_text())


@pytest.fixture(scope="module")
def single(sst2_cell, tmp_path_factory):
    return run_cell(cell_config(sst2_cell(tmp_path_factory.mktemp("sst2") / "one", "train.num_threads=1")))


def test_sst2_cell_selects_best_epoch_by_accuracy(single):
    r = _result(single)
    accs = [e["validation"]["accuracy"] for e in r["epochs"]]
    assert r["best_epoch"] == 1 + accs.index(max(accs))
    assert r["validation"]["accuracy"] == max(accs)
    assert 0.0 <= r["test"]["accuracy"] <= 100.0
    assert r["params"]["head"] > 0 and r["params"]["adapter"] == 2 * 2 * (32 * 8 + 8 * 32)
    assert len((single / "predictions_test.jsonl").read_text().splitlines()) == 6


def test_two_processes_match_one(single, sst2_cell, tmp_path):
    run_dir = tmp_path / "ddp"
    cfg = cell_config(
        sst2_cell(run_dir, "accelerate.num_processes=2", "accelerate.cpu=true", "train.num_threads=1")
    )
    run_cell(cfg)
    one, two = _result(single), _result(run_dir)
    starts = [json.loads(x) for x in (run_dir / "train_log.jsonl").read_text().splitlines() if '"start"' in x]
    assert [s["num_processes"] for s in starts] == [2]  # rank 0 alone writes the log
    assert [s["parallel"] for s in starts] == ["ddp"]
    assert two["config_hash"] == one["config_hash"]  # where a cell runs does not change what it is
    for e1, e2 in zip(one["epochs"], two["epochs"], strict=True):
        assert e2["train_loss"] == pytest.approx(e1["train_loss"], rel=1e-4)
        assert e2["validation"]["loss"] == pytest.approx(e1["validation"]["loss"], rel=1e-4)
        assert e2["validation"]["accuracy"] == pytest.approx(e1["validation"]["accuracy"], abs=1e-9)
    assert two["test"] == pytest.approx(one["test"], rel=1e-6)


def test_mrpc_starts_from_the_mnli_cell(roberta_dir, tmp_path):
    runs = tmp_path / "runs"
    common = [
        "model=roberta-base", "method=lora", "seed=3", f"model.path={roberta_dir}", f"runs_root={runs}",
        "train.max_train_examples=16", "train.epochs=1", "train.batch_size=8", "train.max_length=48",
        "eval.max_validation_examples=8", "eval.max_test_examples=8",
        "task.tiny.n_train=20", "task.tiny.n_validation=10", "task.tiny.n_test=10",
    ]  # fmt: skip
    mrpc = cell_config(
        ["task=mrpc", *common, f"init_overrides={[o for o in common if 'runs_root' not in o]}"]
    )
    assert mrpc.init_from == "mnli"  # from configs/hparams/roberta-base/mrpc/lora.yaml (App. D.1)
    with pytest.raises(
        FileNotFoundError, match="run it first: lora-repro train model=roberta-base task=mnli"
    ):
        init_adapter_dir(mrpc)
    mnli_dir = run_cell(cell_config(["task=mnli", *common]))
    assert init_adapter_dir(mrpc) == mnli_dir / "adapter"
    assert cell_run_dir(cell_config(["task=mnli", *common])) == mnli_dir
    from lora_repro.methods.base import is_head_param
    from lora_repro.methods.io import _from_file_key
    from lora_repro.train import setup

    seen = {}
    real = setup.init_from_upstream

    def spy(model, adapter_dir):
        n = real(model, adapter_dir)
        seen.update({k: p.detach().clone() for k, p in model.named_parameters() if "lora_" in k})
        return n

    setup.init_from_upstream = spy
    try:
        run_cell(mrpc)
    finally:
        setup.init_from_upstream = real
    upstream = {
        _from_file_key(k): v
        for k, v in load_file(str(mnli_dir / "adapter" / "adapter_model.safetensors")).items()
    }
    lora = {k: v for k, v in upstream.items() if not is_head_param(k, ("classifier",))}
    assert lora and set(lora) == set(seen)
    assert all((seen[k] == v).all() for k, v in lora.items())
    dagger = cell_config(["task=mrpc", *common, "init_from=pretrained"])
    assert init_adapter_dir(dagger) is None
