"""A stand-in plays GPT-3 175B in the paper profile: loading, architecture detection and the errors."""

from __future__ import annotations

import json

import pytest

from lora_repro.config import load_group_file
from lora_repro.models.load import load_model, model_source
from lora_repro.models.stand_in import played_by, played_config, stand_in_hf_config

GPT3 = load_group_file("model", "gpt3-175b")


@pytest.fixture(scope="module")
def tokenizer(cache_dir):
    from lora_repro.tiny.tokenizer import tiny_tokenizer

    return tiny_tokenizer(cache_dir)


@pytest.fixture(scope="module")
def opt_dir(tmp_path_factory, tokenizer):
    """A tiny OPT causal LM with its tokenizer: an open GPT-3-class model as a local directory."""
    import torch
    from transformers import OPTConfig, OPTForCausalLM

    torch.manual_seed(0)
    cfg = OPTConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, ffn_dim=64,
        max_position_embeddings=64, word_embed_proj_dim=32, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("opt_stand_in")
    OPTForCausalLM(cfg).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    """A directory whose config is an encoder (BERT): not a causal LM the suite maps."""
    from transformers import BertConfig

    path = tmp_path_factory.mktemp("bert_not_causal")
    BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2).save_pretrained(
        path
    )
    return path


def test_the_role_has_no_stand_in_by_default_and_names_the_default_ones():
    assert GPT3["stand_in"] is None and GPT3["count_only"] is True
    assert GPT3["stand_ins"] == {"one_node": "facebook/opt-30b", "one_gpu": "facebook/opt-1.3b"}


def test_paper_profile_without_stand_in_is_refused_and_says_how():
    with pytest.raises(ValueError, match=r"no public weights \(count_only\).*model.stand_in="):
        model_source(GPT3, "paper")


def test_a_stand_in_loads_as_the_causal_lm_it_is_and_keeps_the_role(opt_dir):
    from lora_repro.models.arch import spec_for

    cfg = {**GPT3, "stand_in": str(opt_dir)}
    assert model_source(cfg, "paper") == str(opt_dir)
    loaded = load_model(cfg, "paper")
    assert type(loaded.model).__name__ == "OPTForCausalLM"
    assert spec_for(loaded.model).family == "opt"  # detected from the checkpoint, not the role's gpt2
    assert loaded.source == str(opt_dir)
    assert played_by(cfg) == f"{opt_dir} (as gpt3-175b)"


def test_model_path_plays_the_role_too(opt_dir):
    cfg = {**GPT3, "path": str(opt_dir)}
    assert type(load_model(cfg, "paper").model).__name__ == "OPTForCausalLM"
    assert played_config(cfg)["hf_config"]["hidden_size"] == 32


@pytest.mark.parametrize("key", ["stand_in", "path"])
def test_a_stand_in_that_is_not_a_causal_lm_is_one_clear_line(bert_dir, key):
    cfg = {**GPT3, key: str(bert_dir)}
    with pytest.raises(
        ValueError, match=r"model_type 'bert', not a causal LM the suite knows; allowed: \["
    ) as err:
        load_model(cfg, "paper")
    assert f"model.{key}=" in str(err.value) and "'opt'" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ValueError, match="model_type 'bert'"):
        played_config(cfg)  # the offline counts refuse it as well


def test_a_hub_stand_in_unknown_offline_names_the_known_ones():
    cfg = {**GPT3, "stand_in": "someone/not-a-model"}
    with pytest.raises(ValueError, match=r"'someone/not-a-model'.*not known offline.*facebook/opt-1.3b"):
        stand_in_hf_config(cfg)


def test_known_stand_ins_resolve_offline_from_the_role_and_the_model_files():
    opt13 = stand_in_hf_config({**GPT3, "stand_in": "facebook/opt-1.3b"})
    assert (opt13["hidden_size"], opt13["num_hidden_layers"], opt13["ffn_dim"]) == (2048, 24, 8192)
    opt66 = stand_in_hf_config({**GPT3, "stand_in": "facebook/opt-66b"})  # configs/model/opt-66b.yaml
    assert (opt66["hidden_size"], opt66["num_hidden_layers"]) == (9216, 64)


def test_tiny_profile_is_unchanged_by_a_stand_in(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    cfg = {**GPT3, "stand_in": "facebook/opt-1.3b", "path": str(tmp_path)}  # with_tiny_path sets path
    assert model_source(cfg, "tiny") == str(tmp_path)
    assert played_config({**GPT3, "stand_in": "facebook/opt-1.3b"}, "tiny")["hf_config"] == GPT3["hf_config"]
    assert played_by(cfg, "tiny") == "gpt3-175b (the suite's tiny architecture)"


def test_a_blank_stand_in_is_refused():
    with pytest.raises(ValueError, match=r"model.stand_in='  ': give a hub id"):
        model_source({**GPT3, "stand_in": "  "}, "paper")
