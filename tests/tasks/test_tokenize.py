"""Task.tokenize: encoder pairs, decoder x + [bos] + y + [eos] with the loss on y, cached by fingerprint."""

from __future__ import annotations

from lora_repro.tasks import get_task
from lora_repro.tasks.base import prompt_ids
from lora_repro.tiny.tokenizer import tiny_tokenizer

SMALL = {"n_train": 30, "n_validation": 10, "n_test": 10}


def test_encoder_tokenization(cache_dir):
    tok = tiny_tokenizer(cache_dir)
    task = get_task("mnli", tiny=SMALL, cache_dir=cache_dir)
    ds = task.load("train")
    enc = task.tokenize(ds, tok, "encoder", 64)
    assert len(enc) == len(ds) and enc["labels"] == ds["label"]
    first = enc[0]["input_ids"]
    assert first == tok(ds[0]["premise"], ds[0]["hypothesis"])["input_ids"][:64]
    assert first[0] == tok.bos_token_id and first[-1] == tok.eos_token_id


def test_decoder_tokenization_masks_the_context(cache_dir):
    tok = tiny_tokenizer(cache_dir)
    task = get_task("webnlg", tiny=SMALL, cache_dir=cache_dir)
    ds = task.load("train")
    enc = task.tokenize(ds, tok, "decoder", 128)
    assert len(enc) == len(task.examples(ds))  # one row per lexicalisation
    ex = task.examples(ds)[0]
    ids, labels = enc[0]["input_ids"], enc[0]["labels"]
    x = tok(ex["text"], add_special_tokens=False)["input_ids"]
    y = tok(ex["target"], add_special_tokens=False)["input_ids"]
    assert ids == x + [tok.bos_token_id] + y + [tok.eos_token_id]
    assert labels == [-100] * (len(x) + 1) + y + [tok.eos_token_id]
    assert prompt_ids(ex["text"], tok) == x + [tok.bos_token_id]
    short = task.tokenize(ds, tok, "decoder", 12)
    assert all(len(r) <= 12 for r in short["input_ids"])  # context truncated from the left, target kept


def test_tokenized_datasets_are_cached_by_fingerprint(cache_dir):
    tok = tiny_tokenizer(cache_dir)
    task = get_task("sst2", tiny=SMALL, cache_dir=cache_dir)
    a = task.tokenize(task.load("train"), tok, "encoder", 32)
    b = task.tokenize(task.load("train"), tok, "encoder", 32)
    c = task.tokenize(task.load("train"), tok, "encoder", 16)
    assert a._fingerprint == b._fingerprint != c._fingerprint
    assert a.cache_files and a.cache_files == b.cache_files
    assert "tokenized" in a.cache_files[0]["filename"] and str(cache_dir) in a.cache_files[0]["filename"]
    assert a["input_ids"] == b["input_ids"]
