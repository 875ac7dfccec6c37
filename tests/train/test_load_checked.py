"""load_model checks what a checkpoint left uninitialised itself: only the new task head may be
missing (an error names anything else), and transformers' load report is not printed."""

from __future__ import annotations

import logging

import pytest
from safetensors.torch import load_file, save_file
from tiny_models import tiny_deberta, tiny_roberta
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace
from transformers import PreTrainedTokenizerFast

from lora_repro.models.load import load_model


def _save_mlm(build, path):
    """An encoder saved the way pretraining leaves it: the MLM head, no classification head."""
    from transformers import AutoModelForMaskedLM

    AutoModelForMaskedLM.from_config(build(num_labels=2).config).save_pretrained(path)
    tok = Tokenizer(WordLevel({"<pad>": 0, "<unk>": 1, "hello": 2}, unk_token="<unk>"))
    tok.pre_tokenizer = Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>").save_pretrained(path)
    return path


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.mark.parametrize("build", [tiny_roberta, tiny_deberta])
def test_a_pretrained_encoder_loads_quietly_with_a_new_head(tmp_path, build):
    path = _save_mlm(build, tmp_path / "m")
    records = _Records()  # on the logger itself: transformers' loggers do not propagate to pytest's
    logger = logging.getLogger("transformers.modeling_utils")
    logger.addHandler(records)
    try:
        loaded = load_model({"path": str(path), "kind": "encoder"}, num_labels=2)
    finally:
        logger.removeHandler(records)
    assert loaded.model.config.num_labels == 2
    assert not [m for m in records.messages if "LOAD REPORT" in m]


def test_a_checkpoint_without_a_layer_is_an_error(tmp_path):
    path = _save_mlm(tiny_roberta, tmp_path / "m")
    weights = load_file(str(path / "model.safetensors"))
    dropped = {k: v for k, v in weights.items() if ".layer.1." not in k}
    assert len(dropped) < len(weights)
    save_file(dropped, str(path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(
        ValueError,
        match=r"has no weights for \['roberta\.encoder\.layer\.1\..*only the new task head \['classifier'\]",
    ):
        load_model({"path": str(path), "kind": "encoder"}, num_labels=2)
