"""Sharded parameters on two CPU processes through `accelerate launch`: FSDP (the trainer's FSDP2)
and DeepSpeed ZeRO-3 give one process's result for LoRA and full fine-tuning, decode the same beams
(in lockstep), write checkpoints that resume after a SIGKILL (FSDP's also on one process), and
refuse in one line what they cannot honour."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from lora_repro.train import checkpoint as ckpt
from lora_repro.train.cell import cell_config, run_cell
from lora_repro.train.generation import BeamConfig, generate_texts
from lora_repro.train.sharding import FsdpSettings, apply_fsdp, fsdp_settings, fsdp_units

STRATEGIES = {
    # accelerate.cpu=false (the tiny profile sets true): the worker must pick gloo itself when two
    # processes find no GPU, else each would run as an independent rank 0
    "fsdp": [
        "accelerate.num_processes=2",
        "accelerate.config_file=configs/accelerate/cpu_fsdp.yaml",
        "accelerate.cpu=false",
    ],
    "deepspeed-zero3": [
        "accelerate.num_processes=2",
        "accelerate.config_file=configs/accelerate/cpu_deepspeed_zero3.yaml",
        # partition every parameter (DeepSpeed keeps those under 1e5 elements whole: all of a toy model's)
        "accelerate.deepspeed={zero_optimization: {stage3_param_persistence_threshold: 0}}",
    ],
}
# odd validation/test counts and small eval batches: the two ranks get different numbers of inputs,
# so evaluation must pad to the same number of (collective) forward passes
UNEVEN = ["train.num_threads=1", "eval.max_validation_examples=31", "eval.batch_size=4"]


def _result(run_dir):
    return json.loads((run_dir / "result.json").read_text())


def _starts(run_dir):
    return [json.loads(x) for x in (run_dir / "train_log.jsonl").read_text().splitlines() if '"start"' in x]


def _assert_same_run(one: dict, two: dict, rel: float = 1e-4) -> None:
    assert two["config_hash"] == one["config_hash"]
    assert len(two["epochs"]) == len(one["epochs"])
    for e1, e2 in zip(one["epochs"], two["epochs"], strict=True):
        assert e2["train_loss"] == pytest.approx(e1["train_loss"], rel=rel)
        for key, value in e1["validation"].items():
            assert e2["validation"][key] == pytest.approx(value, rel=rel, abs=1e-9), key
    assert two["best_epoch"] == one["best_epoch"]
    assert two["test"] == pytest.approx(one["test"], rel=rel, abs=1e-9)


def _assert_close_files(f1, f2) -> None:
    t1, t2 = load_file(str(f1)), load_file(str(f2))
    assert set(t2) == set(t1)
    for k in t1:
        assert t2[k].shape == t1[k].shape, k
        torch.testing.assert_close(t2[k], t1[k], rtol=1e-3, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", list(STRATEGIES))
@pytest.mark.parametrize("method", ["lora", "ft"])
def test_sharded_parameters_on_two_processes_match_one_process(sst2_cell, tmp_path, strategy, method):
    """LoRA (frozen base sharded with the trainable matrices) and full fine-tuning (grad_accum=2:
    gradients reduced once per step), against the same cell in one process."""
    extra = [f"method={method}", *UNEVEN, "checkpoint.keep_after_done=true"]
    if method == "ft":
        extra.append("train.grad_accum=2")
    one = run_cell(cell_config(sst2_cell(tmp_path / "one", *extra)))
    two = run_cell(cell_config(sst2_cell(tmp_path / "two", *extra, *STRATEGIES[strategy])))
    assert [(s["num_processes"], s["parallel"]) for s in _starts(two)] == [(2, strategy)]
    _assert_same_run(_result(one), _result(two))
    # checkpoints and the adapter hold whole tensors, as the one-process run's
    c1, c2 = ckpt.epoch_dirs(one)[-1][1], ckpt.epoch_dirs(two)[-1][1]
    _assert_close_files(c1 / "trainable.safetensors", c2 / "trainable.safetensors")
    names = sorted(p.name for p in c2.iterdir())
    if strategy == "fsdp":  # the same files: the optimizer state gathered whole too
        assert names == sorted(p.name for p in c1.iterdir())
        _assert_close_files(c1 / "optimizer.safetensors", c2 / "optimizer.safetensors")
        meta1, meta2 = (json.loads((c / "state.json").read_text())["optimizer"] for c in (c1, c2))
        assert meta2["order"] == meta1["order"]
    else:  # ZeRO-3: one optimizer partition per rank
        assert {"optimizer-rank0.safetensors", "optimizer-rank1.safetensors"} <= set(names)
    _assert_close_files(
        one / "adapter" / "adapter_model.safetensors", two / "adapter" / "adapter_model.safetensors"
    )
    cfg1 = json.loads((one / "adapter" / "adapter_config.json").read_text())["lora_repro"]
    cfg2 = json.loads((two / "adapter" / "adapter_config.json").read_text())["lora_repro"]
    assert cfg2["base_fingerprint"] == cfg1["base_fingerprint"]  # read before sharding cut the embedding


@pytest.mark.slow
@pytest.mark.parametrize("strategy", [*STRATEGIES, "deepspeed-zero2"])
def test_bf16_on_two_processes_agrees_with_bf16_on_one(sst2_cell, tmp_path, strategy):
    """bf16 autocast (FSDP) or DeepSpeed's bf16 engine (ZeRO-2/3) on CPU, against one bf16 process:
    not bit-equal (bf16 rounds differently when the batch is split), close."""
    config = "cpu_deepspeed_zero2.yaml" if strategy == "deepspeed-zero2" else None
    launch = (
        ["accelerate.num_processes=2", f"accelerate.config_file=configs/accelerate/{config}"]
        if config
        else STRATEGIES[strategy]
    )
    extra = ["train.mixed_precision=bf16", "train.num_threads=1"]
    one = run_cell(cell_config(sst2_cell(tmp_path / "one", *extra)))
    two = run_cell(cell_config(sst2_cell(tmp_path / "two", *extra, *launch)))
    assert [(s["parallel"], s["mixed_precision"]) for s in _starts(two)] == [(strategy, "bf16")]
    assert [s["mixed_precision"] for s in _starts(one)] == ["bf16"]
    _assert_same_run(_result(one), _result(two), rel=1e-3)


@pytest.fixture(scope="module")
def e2e_one_process(e2e_cell_no_dropout, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("e2e_one") / "run"
    return run_cell(cell_config(e2e_cell_no_dropout(run_dir, *E2E)))


E2E = ["train.num_threads=1", "eval.max_test_examples=5", "generation.batch_size=2"]


def _predictions(run_dir):
    return [
        json.loads(x)["prediction"] for x in (run_dir / "predictions_test.jsonl").read_text().splitlines()
    ]


@pytest.mark.slow
@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_sharded_beam_search_matches_one_process(e2e_one_process, e2e_cell_no_dropout, tmp_path, strategy):
    """E2E generation: every forward pass is collective, so beam search steps until both ranks are
    done; the decoded test outputs are the one-process run's."""
    two = run_cell(cell_config(e2e_cell_no_dropout(tmp_path / "two", *E2E, *STRATEGIES[strategy])))
    assert [s["parallel"] for s in _starts(two)] == [strategy]
    _assert_same_run(_result(e2e_one_process), _result(two))
    assert _predictions(two) == _predictions(e2e_one_process)
    lengths = [len(p.split()) for p in _predictions(two)]
    assert len(lengths) == 5 and len(set(lengths)) > 1  # beams ended at different steps


@pytest.mark.slow
@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_sharded_run_resumes_after_sigkill(sst2_cell, kill_in_epoch_two, tmp_path, strategy):
    """SIGKILL of both ranks mid-epoch 2, then a resume: the uninterrupted run's result exactly. An
    FSDP checkpoint holds whole tensors, so one process can take over too."""
    longer = ["train.max_train_examples=320", "logger.log_every=1", *UNEVEN, *STRATEGIES[strategy]]
    reference = run_cell(cell_config(sst2_cell(tmp_path / "reference", *longer)))
    killed = tmp_path / "killed"
    kill_in_epoch_two(sst2_cell(killed, *longer), killed)  # the launcher and both ranks
    assert not (killed / "DONE").exists() and not (killed / "result.json").exists()
    assert [p.name for p in (killed / "checkpoints").iterdir()] == ["epoch-1"]
    on_one = tmp_path / "on_one"
    shutil.copytree(killed, on_one)
    run_cell(cell_config(sst2_cell(killed, *longer)))
    ref, res = _result(reference), _result(killed)
    assert (res["epochs"], res["validation"], res["test"], res["best_epoch"]) == (
        ref["epochs"], ref["validation"], ref["test"], ref["best_epoch"],
    )  # fmt: skip
    if strategy == "fsdp":
        single = [x for x in longer if not x.startswith("accelerate.")]
        run_cell(cell_config(sst2_cell(on_one, *single)))
        assert [s["resumed_from_epoch"] for s in _starts(on_one)][-1] == 1
        _assert_same_run(ref, _result(on_one))


def test_generate_texts_in_lockstep_runs_extra_batches_and_keeps_the_outputs(tokenizer):
    """A rank with fewer prompts than the others runs dummy batches (forward calls every rank must
    make) and returns the same texts as without lockstep."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=16, n_layer=1, n_head=2,
                     bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)  # fmt: skip
    model = GPT2LMHeadModel(cfg).eval()
    calls = []
    model.register_forward_hook(lambda m, args, out: calls.append(1))
    prompts = [tokenizer("name : x", add_special_tokens=False)["input_ids"]] * 3
    beam = BeamConfig(beam_size=2, length_penalty=1.0, no_repeat_ngram_size=0, max_new_tokens=4)
    plain = generate_texts(model, tokenizer, prompts, beam, 2)
    plain_calls = len(calls)
    calls.clear()
    stepped = generate_texts(model, tokenizer, prompts, beam, 2, lockstep=4)
    assert stepped == plain and len(stepped) == 3
    assert len(calls) > plain_calls  # two dummy batches decoded (and dropped)


ENV = {"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2"}


def test_fsdp_settings_read_the_accelerate_config():
    assert fsdp_settings({}) is None
    assert fsdp_settings({"ACCELERATE_USE_FSDP": "false", "FSDP_VERSION": "1"}) is None
    s = fsdp_settings({**ENV, "FSDP_RESHARD_AFTER_FORWARD": "false",
                       "FSDP_TRANSFORMER_CLS_TO_WRAP": "GPT2Block, RobertaLayer"})  # fmt: skip
    assert s == FsdpSettings(reshard_after_forward=False, wrap_policy="TRANSFORMER_BASED_WRAP",
                             layer_classes=("GPT2Block", "RobertaLayer"))  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"FSDP_VERSION": "1"}, "fsdp_version=1: .* allowed: 2"),
        ({"FSDP_OFFLOAD_PARAMS": "true"}, "fsdp_config.fsdp_offload_params=true .* allowed: false"),
        ({"FSDP_ACTIVATION_CHECKPOINTING": "true"}, "activation checkpointing"),
        ({"FSDP_CPU_RAM_EFFICIENT_LOADING": "true"}, "fsdp_cpu_ram_efficient_loading=true"),
        ({"FSDP_STATE_DICT_TYPE": "SHARDED_STATE_DICT"}, "SHARDED_STATE_DICT.*allowed: FULL_STATE_DICT"),
        ({"FSDP_AUTO_WRAP_POLICY": "SIZE_BASED_WRAP"}, "SIZE_BASED_WRAP.*TRANSFORMER_BASED_WRAP"),
        ({"FSDP_RESHARD_AFTER_FORWARD": "maybe"}, "FSDP_RESHARD_AFTER_FORWARD='maybe'; allowed: true, false"),
    ],
)
def test_fsdp_settings_refuse_what_the_trainer_cannot_honour(extra, message):
    with pytest.raises(ValueError, match=message):
        fsdp_settings({**ENV, **extra})


@pytest.mark.parametrize("name", ["fsdp.yaml", "cpu_fsdp.yaml"])
def test_the_fsdp_configs_pass_through_accelerate_launch_into_accepted_settings(name):
    """The environment accelerate launch exports from each FSDP config (its own code, as on a GPU
    machine) is what the trainer reads, and it accepts it."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_multi_gpu_env

    from lora_repro.config import config_dir

    path = config_dir() / "accelerate" / name
    args = _validate_launch_command(launch_command_parser().parse_args(["--config_file", str(path), "x.py"]))[
        0
    ]
    env = prepare_multi_gpu_env(args)
    assert env["ACCELERATE_USE_FSDP"] == "true"
    assert fsdp_settings(env) == FsdpSettings(
        reshard_after_forward=True, wrap_policy="TRANSFORMER_BASED_WRAP"
    )


def test_fsdp_units_are_the_transformer_blocks():
    """Each block is its own unit, also for DeBERTa-v2, which declares no _no_split_modules."""
    import transformers as tf

    small = {
        "hidden_size": 16,
        "num_hidden_layers": 3,
        "num_attention_heads": 2,
        "intermediate_size": 32,
        "vocab_size": 50,
    }
    models = {
        "DebertaV2Layer": tf.DebertaV2ForSequenceClassification(tf.DebertaV2Config(**small)),
        "RobertaLayer": tf.RobertaForSequenceClassification(tf.RobertaConfig(**small)),
        "GPT2Block": tf.GPT2LMHeadModel(tf.GPT2Config(n_embd=16, n_layer=3, n_head=2, vocab_size=50)),
    }  # fmt: skip
    for block, model in models.items():
        units = fsdp_units(model, FsdpSettings())
        assert [type(u).__name__ for u in units] == [block] * 3
        assert fsdp_units(model, FsdpSettings(wrap_policy="NO_WRAP")) == []
    roberta = models["RobertaLayer"]
    named = fsdp_units(roberta, FsdpSettings(layer_classes=("RobertaEmbeddings", "RobertaLayer")))
    assert [type(u).__name__ for u in named] == ["RobertaEmbeddings"] + ["RobertaLayer"] * 3


def test_wrapping_unknown_layer_classes_is_refused():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"\['NoSuchBlock'\] matches no module of Sequential"):
        apply_fsdp(model, FsdpSettings(layer_classes=("NoSuchBlock",)))


def test_fp16_under_fsdp_is_refused(monkeypatch):
    from lora_repro.train.setup import make_accelerator

    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    cfg = SimpleNamespace(train=SimpleNamespace(mixed_precision="fp16"), accelerate=SimpleNamespace(cpu=True))
    with pytest.raises(ValueError, match="train.mixed_precision=fp16 under FSDP.*allowed: bf16, no"):
        make_accelerator(cfg)
