"""Tiny-model pretraining: deterministic, cached once, safe against concurrent starts, loadable."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from lora_repro.models.load import load_model
from lora_repro.tiny.pretrain import ensure_pretrained, tiny_model_dir
from lora_repro.tiny.pretrain_cli import main as pretrain_main

pytestmark = pytest.mark.slow
QUICK = {"steps": 3, "batch_size": 4, "seq_len": 32, "corpus_size": 300}


def _weights(path):
    return load_file(str(path / "model.safetensors"))


def test_causal_lm_pretraining_is_cached_and_deterministic(tmp_path, cache_dir):
    a = ensure_pretrained("gpt2-medium", tmp_path / "a", progress=False, **QUICK)
    b = ensure_pretrained("gpt2-medium", tmp_path / "b", progress=False, **QUICK)
    assert a == tiny_model_dir("gpt2-medium", tmp_path / "a", **QUICK)
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)
    before = (a / "model.safetensors").stat().st_mtime_ns
    assert ensure_pretrained("gpt2-medium", tmp_path / "a", progress=False, **QUICK) == a
    assert (a / "model.safetensors").stat().st_mtime_ns == before  # cached: not trained again
    assert ensure_pretrained("gpt2-medium", tmp_path / "a", progress=False, **{**QUICK, "steps": 4}) != a
    loaded = load_model({"name": "gpt2-medium", "kind": "decoder", "path": str(a)})
    assert loaded.model.config.n_embd == 64 and loaded.tokenizer.eos_token == "</s>"


def test_masked_lm_encoder_gets_a_classification_head(tmp_path, cache_dir):
    path = ensure_pretrained("roberta-base", tmp_path, progress=False, **QUICK)
    loaded = load_model({"name": "roberta-base", "kind": "encoder", "path": str(path)}, num_labels=3)
    assert type(loaded.model).__name__ == "RobertaForSequenceClassification"
    assert loaded.model.config.num_labels == 3 and loaded.model.config.hidden_size == 64
    reg = load_model({"name": "roberta-base", "kind": "encoder", "path": str(path)}, regression=True)
    assert reg.model.config.num_labels == 1 and reg.model.config.problem_type == "regression"


def test_concurrent_starts_train_once(tmp_path, cache_dir):
    code = (
        "import sys; from lora_repro.tiny.pretrain import ensure_pretrained; "
        f"print(ensure_pretrained('gpt2-medium', sys.argv[1], progress=False, **{QUICK!r}))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1] == str(tiny_model_dir("gpt2-medium", tmp_path, **QUICK))
    leftovers = [p.name for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_pretrain_cli(tmp_path, capsys, cache_dir):
    assert pretrain_main(["model=gpt2-medium", "steps=2", f"cache_dir={tmp_path}"]) == 0
    path = capsys.readouterr().out.strip()
    assert path.startswith(str(tmp_path / "models" / "gpt2-medium-"))
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        pretrain_main(["model=nope"])
    with pytest.raises(ValueError, match="give model=<name>"):
        pretrain_main([])


def test_encoder_batches_carry_the_bag_of_words_of_the_unmasked_sequence(cache_dir):
    import random

    from lora_repro.tiny.pretrain import PretrainRecipe, _encoder_batches
    from lora_repro.tiny.synthetic import pretraining_corpus
    from lora_repro.tiny.tokenizer import tiny_tokenizer

    tok = tiny_tokenizer(cache_dir)
    recipe = PretrainRecipe(batch_size=6, seq_len=40)
    batch = next(_encoder_batches(pretraining_corpus(50, 1), tok, recipe, random.Random(0)))
    original = batch["input_ids"].where(batch["labels"] == -100, batch["labels"])  # undo the masking
    special = set(tok.all_special_ids)
    assert batch["labels"].ne(-100).any()  # something was masked, so the target is not the input
    for row, bow in zip(original.tolist(), batch["bow"], strict=True):
        words = [t for t in row if t not in special]
        expected = torch.zeros(len(tok))
        for t in words:
            expected[t] += 1 / len(words)
        assert torch.allclose(bow, expected)


def test_cls_bow_term_is_added_to_masked_lm_and_makes_s_depend_on_the_input(cache_dir):
    """Masked LM alone leaves <s> nearly constant; the bag-of-words term makes it describe the input."""
    from lora_repro.models.build import model_config
    from lora_repro.tiny.pretrain import PretrainRecipe, _encoder_loss, pretrain_model
    from lora_repro.tiny.tokenizer import tiny_tokenizer

    tok = tiny_tokenizer(cache_dir)
    cfg = model_config("roberta-base")
    spreads = {}
    for weight in (0.0, 1.0):
        recipe = PretrainRecipe(
            steps=60, warmup=10, batch_size=16, seq_len=40, corpus_size=500, cls_bow_weight=weight
        )
        model = pretrain_model(cfg, tok, recipe, progress=False).eval()
        texts = [f"the {w} is great . i loved it ." for w in ("food", "plot", "acting", "music")]
        texts += [f"{n} lives in {c} ." for n, c in (("anna", "paris"), ("bob", "rome"))]
        enc = tok(texts, return_tensors="pt", padding=True)
        with torch.no_grad():
            s = model(**enc, output_hidden_states=True).hidden_states[-1][:, 0]
        spreads[weight] = float(s.std(0).mean() / s.norm(dim=-1).mean())
    assert spreads[1.0] > 2 * spreads[0.0], spreads

    # the loss is masked LM plus weight x cross entropy of log_softmax(<s> . E^T) against the bag
    batch = {
        "input_ids": enc["input_ids"][:2],
        "attention_mask": enc["attention_mask"][:2],
        "labels": enc["input_ids"][:2].masked_fill(torch.rand(2, enc["input_ids"].shape[1]) < 0.5, -100),
        "bow": torch.softmax(torch.randn(2, len(tok)), -1),
    }
    with torch.no_grad():
        out = model(**{k: v for k, v in batch.items() if k != "bow"}, output_hidden_states=True)
        logp = torch.log_softmax(out.hidden_states[-1][:, 0] @ model.get_input_embeddings().weight.T, -1)
        term = -(batch["bow"] * logp).sum(-1).mean()
        for w in (0.0, 0.5):
            got = _encoder_loss(model, batch, PretrainRecipe(cls_bow_weight=w))
            assert torch.allclose(got, out.loss + w * term, atol=1e-5)


def test_pretraining_leaves_the_callers_random_streams_alone(tmp_path, cache_dir):
    """A cell that pretrains its missing model first draws the same numbers as one that finds it cached."""
    import random

    import numpy as np

    def draws():
        return torch.rand(4).tolist(), random.random(), float(np.random.rand())

    torch.manual_seed(5), random.seed(5), np.random.seed(5)
    expected = draws()
    torch.manual_seed(5), random.seed(5), np.random.seed(5)
    ensure_pretrained("gpt2-medium", tmp_path, progress=False, **QUICK)  # not cached: pretrains
    assert draws() == expected


@pytest.mark.parametrize("arch", ["roberta", "deberta-v2"])
def test_masked_positions_only_head_gives_the_models_own_masked_lm_loss(arch):
    """_encoder_loss projects only masked positions onto the vocabulary: the same loss as the model's."""
    from transformers import DebertaV2Config, DebertaV2ForMaskedLM, RobertaConfig, RobertaForMaskedLM

    from lora_repro.tiny.pretrain import PretrainRecipe, _encoder_loss, mlm_head

    config_cls, model_cls = {"roberta": (RobertaConfig, RobertaForMaskedLM),
                             "deberta-v2": (DebertaV2Config, DebertaV2ForMaskedLM)}[arch]  # fmt: skip
    torch.manual_seed(0)
    config = config_cls(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, pad_token_id=1)  # fmt: skip
    model = model_cls(config).eval()
    assert mlm_head(model) is not None
    ids = torch.randint(5, 50, (4, 12))
    labels = ids.masked_fill(torch.rand(ids.shape) > 0.3, -100)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels,
             "bow": torch.full((4, 50), 1 / 50)}  # fmt: skip
    with torch.no_grad():
        own = model(input_ids=ids, attention_mask=batch["attention_mask"], labels=labels).loss
        ours = _encoder_loss(model, batch, PretrainRecipe(cls_bow_weight=0))
    assert torch.allclose(ours, own, atol=1e-5)


def test_encoder_pairs_put_a_documents_consecutive_sentences_in_the_two_segments(cache_dir):
    """A pair sequence is often one document cut at a sentence boundary: <s> A </s></s> B </s>."""
    import random

    from lora_repro.tiny.pretrain import PretrainRecipe, _encoder_batches, _split_sentences
    from lora_repro.tiny.synthetic import pretraining_corpus
    from lora_repro.tiny.tokenizer import tiny_tokenizer

    assert _split_sentences("Ann is a chef. so Ann cooks? Yes! ok") == [
        "Ann is a chef.",
        "so Ann cooks?",
        "Yes!",
        "ok",
    ]
    tok = tiny_tokenizer(cache_dir)
    docs = pretraining_corpus(200, 3)
    recipe = PretrainRecipe(batch_size=200, seq_len=256, mlm_probability=0.0)
    batch = next(_encoder_batches(docs, tok, recipe, random.Random(0)))
    eos = tok.eos_token_id
    cut, joined, single = 0, 0, 0
    for row in batch["input_ids"].tolist():
        row = [t for t in row if t != tok.pad_token_id]
        if row.count(eos) == 1:
            single += 1
            continue
        i = row.index(eos)
        a, b = tok.decode(row[1:i]), tok.decode(row[i + 2 : -1])
        if f"{a} {b}" in docs:
            cut += 1
            parts = _split_sentences(f"{a} {b}")
            assert b in [" ".join(parts[k:]) for k in range(1, len(parts))]  # cut at a sentence boundary
        else:
            joined += 1
    assert cut > 20 and joined > 40 and single > 70, (cut, joined, single)  # 20%, 30%, 50% of 200
