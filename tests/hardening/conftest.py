"""Fixtures of the hardening tests: a temporary cache, a local toy RoBERTa and one finished cell.

The finished cell is an SST-2 LoRA cell with ``train.epochs=0`` (no training step: the test role is
evaluated on the model as built) on a random toy RoBERTa loaded through ``model.path``, so nothing
is pretrained or downloaded. Tests that damage a finished cell work on a copy of it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# a cell small enough for a test: no training step, 6 test inputs
TINY = [
    "train.epochs=0", "train.max_train_examples=16", "train.batch_size=8", "train.max_length=32",
    "eval.max_validation_examples=8", "eval.max_test_examples=6", "train.num_threads=1",
    "task.tiny.n_train=20", "task.tiny.n_validation=10", "task.tiny.n_test=10",
]  # fmt: skip


@pytest.fixture(scope="session")
def roberta_dir(tmp_path_factory, cache_dir):
    import torch
    from transformers import RobertaConfig, RobertaForMaskedLM

    from lora_repro.tiny.tokenizer import tiny_tokenizer

    tok = tiny_tokenizer(cache_dir)
    torch.manual_seed(0)
    cfg = RobertaConfig(
        vocab_size=len(tok), hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=40, pad_token_id=tok.pad_token_id, bos_token_id=0, eos_token_id=2,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("roberta_local")
    RobertaForMaskedLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def sst2(roberta_dir):
    """``sst2(run_dir, *extra)``: the overrides of the tiny SST-2 LoRA cell."""

    def overrides(run_dir, *extra: str) -> list[str]:
        return [
            "model=roberta-base", "task=sst2", "method=lora", "seed=1", f"model.path={roberta_dir}",
            f"run_dir={run_dir}", *TINY, *extra,
        ]  # fmt: skip

    return overrides


@pytest.fixture(scope="session")
def finished(tmp_path_factory, sst2) -> Path:
    """A finished cell's run directory (do not change it: copy it with ``finished_copy``)."""
    from lora_repro.train.cell import cell_config, run_cell

    run_dir = tmp_path_factory.mktemp("finished") / "run"
    run_cell(cell_config(sst2(run_dir)))
    return run_dir


@pytest.fixture
def finished_copy(finished, tmp_path) -> Path:
    """A private copy of the finished cell (same DONE, result.json and adapter) under tmp_path."""
    return Path(shutil.copytree(finished, tmp_path / "run"))


def _snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``root`` with its mode and bytes (to assert that nothing changed)."""
    if not root.exists():
        return {}
    if root.is_file():
        return {".": (root.stat().st_mode, root.read_bytes())}
    return {
        str(p.relative_to(root)): (p.stat().st_mode, p.read_bytes() if p.is_file() else b"")
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture(scope="session")
def snapshot():
    """``snapshot(root)``: every file under ``root`` with its mode and bytes."""
    return _snapshot
