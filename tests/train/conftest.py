"""Fixtures of the trainer tests: a temporary cache (LORA_REPRO_CACHE) and local model directories.

The models are random toy transformers saved with ``save_pretrained`` next to the tiny tokenizer, so
the cells load them through ``model.path=<dir>`` (the local-directory path of models/load.py) and
nothing is pretrained or downloaded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

# cells small enough for a test: ~64 training examples, 2 epochs, short beams
TINY_CELL = [
    "train.max_train_examples=64",
    "train.batch_size=8",
    "train.epochs=2",
    "train.max_length=64",
    "train.lr_scale=10",
    "eval.max_validation_examples=32",
    "eval.max_test_examples=6",
    "generation.beam_size=2",
    "generation.max_new_tokens=12",
    "task.tiny.n_train=80",
    "task.tiny.n_validation=40",
    "task.tiny.n_test=40",
]


@pytest.fixture(scope="session")
def tokenizer(cache_dir):
    from lora_repro.tiny.tokenizer import tiny_tokenizer

    return tiny_tokenizer(cache_dir)


def _save_gpt2(path, tokenizer, eos_scale: float = 1.0, **config):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(
        vocab_size=len(tokenizer), n_positions=128, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        **config,
    )  # fmt: skip
    model = GPT2LMHeadModel(cfg)
    with torch.no_grad():  # a longer EOS embedding (tied to the output): some beams end early
        model.transformer.wte.weight[tokenizer.eos_token_id] *= eos_scale
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def gpt2_dir(tmp_path_factory, tokenizer):
    return _save_gpt2(tmp_path_factory.mktemp("gpt2_local"), tokenizer)


@pytest.fixture(scope="session")
def gpt2_no_dropout_dir(tmp_path_factory, tokenizer):
    """Without dropout, 1 and 2 processes compute the same updates (dropout masks come from each
    rank's own random stream); its EOS embedding is 5x longer, so decoded outputs end at different
    steps (a random GPT-2 otherwise never emits EOS)."""
    path = tmp_path_factory.mktemp("gpt2_no_dropout")
    return _save_gpt2(path, tokenizer, eos_scale=1.5, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)


@pytest.fixture(scope="session")
def roberta_dir(tmp_path_factory, tokenizer):
    import torch
    from transformers import RobertaConfig, RobertaForMaskedLM

    torch.manual_seed(0)
    cfg = RobertaConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=130, pad_token_id=tokenizer.pad_token_id, bos_token_id=0, eos_token_id=2,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,  # no dropout: 1 and 2 processes agree exactly
    )  # fmt: skip
    path = tmp_path_factory.mktemp("roberta_local")
    RobertaForMaskedLM(cfg).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def e2e_cell(gpt2_dir):
    """Overrides of a tiny E2E LoRA cell on the local GPT-2: ``e2e_cell(run_dir, *extra)``."""
    return lambda run_dir, *extra: _e2e(gpt2_dir, run_dir, *extra)


@pytest.fixture(scope="session")
def e2e_cell_no_dropout(gpt2_no_dropout_dir):
    """``e2e_cell`` on a GPT-2 without dropout, LoRA dropout off too."""
    return lambda run_dir, *extra: _e2e(gpt2_no_dropout_dir, run_dir, "method.dropout=0", *extra)


@pytest.fixture(scope="session")
def sst2_cell(roberta_dir):
    """Overrides of a tiny SST-2 LoRA cell on the local RoBERTa: ``sst2_cell(run_dir, *extra)``."""
    return lambda run_dir, *extra: _sst2(roberta_dir, run_dir, *extra)


def _e2e(gpt2_dir, run_dir, *extra: str) -> list[str]:
    return [
        "model=gpt2-medium", "task=e2e", "method=lora", "seed=1", f"model.path={gpt2_dir}", f"run_dir={run_dir}",
        *TINY_CELL, *extra,
    ]  # fmt: skip


def _sst2(roberta_dir, run_dir, *extra: str) -> list[str]:
    return [
        "model=roberta-base", "task=sst2", "method=lora", "seed=1", f"model.path={roberta_dir}", f"run_dir={run_dir}",
        *TINY_CELL, *extra,
    ]  # fmt: skip


def _kill_in_epoch_two(overrides: list[str], run_dir, timeout: float = 300.0) -> None:
    """Start ``lora-repro train <overrides>`` (with ``logger.log_every=1``) in its own process group
    and SIGKILL the whole group once a step of epoch 2 is logged: the kill lands mid-epoch."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "lora_repro.cli", "train", *overrides], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    log, deadline = run_dir / "train_log.jsonl", time.time() + timeout

    def in_epoch_two() -> bool:
        lines = log.read_text().splitlines() if log.is_file() else []
        return any('"lr"' in x and '"epoch": 2' in x for x in lines)

    try:
        while not in_epoch_two():
            assert proc.poll() is None, "the cell ended before epoch 2"
            assert time.time() < deadline, "no step of epoch 2 logged in time"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the cell and, under accelerate launch, every rank
        proc.wait()


@pytest.fixture(scope="session")
def kill_in_epoch_two():
    """``kill_in_epoch_two(overrides, run_dir)``: run a cell and SIGKILL it in the middle of epoch 2."""
    return _kill_in_epoch_two
