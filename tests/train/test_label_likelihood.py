"""Decoder classification by label likelihood (lora_repro/train/evaluate.py ``decoder_labels``).

The expected log-likelihoods come from plain, unpadded, one-sequence forward passes of a tiny GPT-2
built here (no batching, no padding, no code of the scorer), so batching, right padding, prefix
tokens and multi-token label words are all checked against first principles.
"""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import pytest
import torch
from omegaconf import OmegaConf
from transformers import GPT2Config, GPT2LMHeadModel

from lora_repro.methods import apply_method
from lora_repro.tasks import get_task
from lora_repro.tasks.base import prompt_ids
from lora_repro.train.evaluate import decoder_labels, label_loglik, label_words

SIZES = {"n_train": 40, "n_validation": 12, "n_test": 12}


def _gpt2(tokenizer, seed: int = 0):
    torch.manual_seed(seed)
    cfg = GPT2Config(vocab_size=len(tokenizer), n_positions=256, n_embd=32, n_layer=2, n_head=2,
                     bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)  # fmt: skip
    return GPT2LMHeadModel(cfg).eval()


def _plain_loglik(model, prompt: list[int], label: list[int], **kw) -> float:
    """sum_j log p(label_j | prompt, label_<j) from one unpadded forward pass."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt + label]), **kw).logits[0]
    logp = torch.log_softmax(logits.double(), dim=-1)
    return float(sum(logp[len(prompt) - 1 + j, t] for j, t in enumerate(label)))


ACC = SimpleNamespace(
    num_processes=1, process_index=0, device=torch.device("cpu"), autocast=contextlib.nullcontext
)


def _cfg(**eval_keys):
    return OmegaConf.create(
        {"method": {"name": "lora"}, "train": {"max_length": 200}, "eval": {"batch_size": 4, **eval_keys}}
    )


def test_scores_are_the_summed_log_likelihoods_of_multi_token_labels(tokenizer):
    model = _gpt2(tokenizer)
    prompts = [[5, 6, 7, 0], [9, 0], [11, 12, 13, 14, 15, 16, 0]]  # different lengths: right padding
    labels = [[20], [21, 22, 23], [24, 25]]  # one-, three- and two-token label words
    scores = label_loglik(model, prompts, labels, batch_size=2, pad_id=1, prefix=False)
    assert scores.shape == (3, 3)
    for i, p in enumerate(prompts):
        for c, lab in enumerate(labels):
            assert scores[i, c].item() == pytest.approx(_plain_loglik(model, p, lab), abs=1e-4)
    # not the first token alone: a three-token label's sum is lower than its first token's term
    first = [_plain_loglik(model, p, labels[1][:1]) for p in prompts]
    assert all(scores[i, 1].item() < first[i] - 1e-3 for i in range(3))


def test_prefix_methods_score_with_the_infix_between_prompt_and_label(tokenizer):
    model = apply_method(_gpt2(tokenizer), "preembed", l_p=3, l_i=2).eval()
    with torch.no_grad():
        model.prefix_tuning.embed.normal_()  # virtual tokens that change the outputs
    prompts, labels = [[5, 6, 0], [7, 8, 9, 10, 0]], [[20, 21], [22]]
    scores = label_loglik(model, prompts, labels, batch_size=3, pad_id=1, prefix=True)
    for i, p in enumerate(prompts):
        for c, lab in enumerate(labels):
            expected = _plain_loglik(model, p, lab, context_lengths=torch.tensor([len(p)]))
            assert scores[i, c].item() == pytest.approx(expected, abs=1e-4)
    plain = label_loglik(model, prompts, labels, batch_size=3, pad_id=1, prefix=False)
    assert not torch.allclose(plain, scores)  # the infix position matters: context_lengths reached the model


@pytest.mark.parametrize("name", ["mnli", "rte"])
def test_the_prediction_is_the_arg_max_of_the_label_words(tokenizer, cache_dir, name):
    task = get_task(name, profile="tiny", tiny=SIZES, cache_dir=str(cache_dir))
    rows = list(task.load("validation"))
    # the label words are the decoder targets the task trains on
    words = label_words(task)
    assert words == [task.format({**rows[0], "label": c}, "decoder")["target"] for c in range(len(words))]
    ids = [tokenizer(w, add_special_tokens=False)["input_ids"] for w in words]
    if name == "rte":
        assert max(len(i) for i in ids) > 1  # " not_entailment" is several tokens
    items = [task.format(r, "decoder") for r in rows]
    model = _gpt2(tokenizer, seed=3)
    preds, texts = decoder_labels(ACC, model, tokenizer, task, items, _cfg())
    for it, pred, text in zip(items, preds, texts, strict=True):
        prompt = prompt_ids(it["text"], tokenizer, 200)
        expected = [_plain_loglik(model, prompt, lab) for lab in ids]
        assert pred == max(range(len(ids)), key=expected.__getitem__)
        assert text == task.label_names[pred]


def test_generate_remains_an_option_and_regression_always_generates(tokenizer, cache_dir):
    task = get_task("mnli", profile="tiny", tiny=SIZES, cache_dir=str(cache_dir))
    items = [task.format(r, "decoder") for r in task.load("validation")][:4]
    model = _gpt2(tokenizer, seed=1)
    preds, texts = decoder_labels(ACC, model, tokenizer, task, items, _cfg(decoder_labels="generate"))
    assert preds == [task.parse_generated_label(t) for t in texts]
    stsb = get_task("stsb", profile="tiny", tiny=SIZES, cache_dir=str(cache_dir))
    items = [stsb.format(r, "decoder") for r in stsb.load("validation")][:3]
    preds, texts = decoder_labels(ACC, model, tokenizer, stsb, items, _cfg(decoder_labels="likelihood"))
    assert preds == [stsb.parse_generated_label(t) for t in texts]  # a number read from generated text


def test_a_bad_scorer_is_refused_in_one_line(tokenizer, cache_dir):
    task = get_task("mnli", profile="tiny", tiny=SIZES, cache_dir=str(cache_dir))
    items = [task.format(r, "decoder") for r in task.load("validation")][:1]
    with pytest.raises(
        ValueError, match=r"eval.decoder_labels='beam'; allowed: \['likelihood', 'generate'\]"
    ):
        decoder_labels(ACC, _gpt2(tokenizer), tokenizer, task, items, _cfg(decoder_labels="beam"))


def test_the_key_changes_the_hash_only_where_it_changes_the_scoring():
    from lora_repro.train.cell import cell_config, cell_hash

    def h(*ov):
        return cell_hash(cell_config(list(ov)))

    mnli = ("model=gpt3-175b", "task=mnli", "method=lora")
    assert h(*mnli) != h(*mnli, "eval.decoder_labels=generate")  # decoder classification: other results
    e2e, enc = (
        ("model=gpt2-medium", "task=e2e", "method=lora"),
        ("model=roberta-base", "task=mnli", "method=lora"),
    )
    assert h(*e2e) == h(*e2e, "eval.decoder_labels=generate")  # NLG and encoders: no effect, old hashes
    assert h(*enc) == h(*enc, "eval.decoder_labels=generate")
    with pytest.raises(ValueError, match="eval.decoder_labels must be one of"):
        cell_config([*mnli, "eval.decoder_labels=beam"])
