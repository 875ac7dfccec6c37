"""load_model sets the classification dropout on every encoder family (DeBERTa-v2 names it cls_dropout)."""

from __future__ import annotations

import pytest
from tiny_models import tiny_deberta, tiny_roberta
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace
from transformers import PreTrainedTokenizerFast

from lora_repro.models.load import load_model


def _save(model, path):
    model.save_pretrained(path)
    vocab = {"<pad>": 0, "<unk>": 1, "hello": 2}
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>").save_pretrained(path)


def _dropout_ps(model):
    """Dropout rates of the classification head (DeBERTa's ContextPooler keeps its own pooler_dropout)."""
    return {
        m.p if hasattr(m, "p") else m.drop_prob
        for n, m in model.named_modules()
        if n.startswith(("classifier", "dropout")) and type(m).__name__.endswith("Dropout")
    }


@pytest.mark.parametrize("build", [tiny_roberta, tiny_deberta])
def test_cls_dropout_reaches_the_head(tmp_path, build):
    _save(build(num_labels=3), tmp_path / "m")
    loaded = load_model({"path": str(tmp_path / "m"), "kind": "encoder"}, num_labels=3, cls_dropout=0.15)
    assert loaded.model.config.num_labels == 3
    assert _dropout_ps(loaded.model) == {0.15}
