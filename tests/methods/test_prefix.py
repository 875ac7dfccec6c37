"""Prefix-embedding / prefix-layer tuning: where the virtual tokens go, KV-cache generation, limits."""

from __future__ import annotations

import pytest
import torch
from tiny_models import BUILDERS, tiny_gpt2, tiny_roberta

from lora_repro import apply_method
from lora_repro.methods import has_prefix
from lora_repro.methods.base import head_prefixes, is_head_param
from lora_repro.methods.prefix import PREFIX_ATTR

PREFIX_METHODS = {
    "preembed": {"l_p": 3, "l_i": 2},
    "prelayer": {"l_p": 3, "l_i": 2},
    "lora_pe": {"r": 2, "l_p": 3, "l_i": 2},
    "lora_pl": {"r": 2, "l_p": 2, "l_i": 3},
}


def _randomise(model, seed=3):
    """Move every trained tensor except a new task head away from its initial value."""
    g = torch.Generator().manual_seed(seed)
    heads = head_prefixes(model)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.requires_grad and not is_head_param(n, heads):
                p.add_(torch.randn(p.shape, generator=g) * 0.5)


def _prompt(batch=2, length=6, seed=11):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, 120, (batch, length), generator=g)


def test_preembed_layout_matches_explicit_construction_decoder():
    """[P, x_<s, I, x_>=s] built by hand on the bare base model gives the same next-token logits."""
    model = apply_method(tiny_gpt2(), "preembed", l_p=3, l_i=2)
    _randomise(model)
    pt = getattr(model, PREFIX_ATTR)
    base = tiny_gpt2()
    ids, s = _prompt(1, 7), 4
    with torch.no_grad():
        out = model(input_ids=ids, context_lengths=s).logits  # [1, 7, V]
        wte = base.transformer.wte
        emb = torch.cat([pt.embed[:3], wte(ids[0, :s]), pt.embed[3:], wte(ids[0, s:])])[None]
        ref = base(inputs_embeds=emb).logits  # [1, 12, V]
    # token t (t < s) sits at 3 + t; token t >= s at 5 + t; logits for t predict t + 1
    torch.testing.assert_close(out[0, : s - 1], ref[0, 3 : 3 + s - 1])
    torch.testing.assert_close(out[0, s - 1], ref[0, 3 + s + 2 - 1])  # after the infix
    torch.testing.assert_close(out[0, s:], ref[0, 5 + s :])


def test_preembed_layout_encoder_keeps_cls_first():
    model = apply_method(tiny_roberta(), "preembed", l_p=2, l_i=3)
    _randomise(model)
    pt = getattr(model, PREFIX_ATTR)
    base = tiny_roberta()
    ids = torch.tensor([[0, 17, 23, 45, 2, 1, 1]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 0, 0]])
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask).logits
        wemb = base.roberta.embeddings.word_embeddings
        emb = torch.cat([wemb(ids[0, :1]), pt.embed[:2], wemb(ids[0, 1:5]), pt.embed[2:], wemb(ids[0, 5:])])[
            None
        ]
        ext_mask = torch.tensor([[1] * 10 + [0, 0]])
        ref = base(inputs_embeds=emb, attention_mask=ext_mask).logits
    torch.testing.assert_close(out, ref)


@pytest.mark.parametrize("method", list(PREFIX_METHODS))
def test_loss_matches_returned_logits(method):
    model = apply_method(tiny_gpt2(), method, **PREFIX_METHODS[method])
    _randomise(model)
    ids = _prompt(2, 9)
    labels = ids.clone()
    labels[:, :4] = -100  # loss on y only
    with torch.no_grad():
        out = model(input_ids=ids, labels=labels, context_lengths=torch.tensor([4, 4]))
    manual = torch.nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, 120), labels[:, 1:].reshape(-1))
    assert out.logits.shape == (2, 9, 120)
    torch.testing.assert_close(out.loss, manual)


def _greedy_uncached(model, ids, mask, n):
    seq, m = ids, mask
    for _ in range(n):
        with torch.no_grad():
            logits = model(input_ids=seq, attention_mask=m, context_lengths=ids.shape[1]).logits[:, -1]
        seq = torch.cat([seq, logits.argmax(-1, keepdim=True)], 1)
        m = torch.cat([m, torch.ones_like(m[:, :1])], 1)
    return seq


@pytest.mark.parametrize("family", ["gpt2", "opt", "bloom", "gpt-neox"])
@pytest.mark.parametrize("method", list(PREFIX_METHODS))
def test_kv_cache_generation_equals_full_recompute(family, method):
    """generate (KV cache, left padding) puts the infix right after the prompt, like a full recompute."""
    model = apply_method(BUILDERS[family](), method, **PREFIX_METHODS[method])
    _randomise(model)
    ids = _prompt(2, 6)
    mask = torch.ones_like(ids)
    ids[0, :2], mask[0, :2] = 0, 0  # left padding in row 0
    with torch.no_grad():
        gen = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=5,
            do_sample=False,
            use_cache=True,
            pad_token_id=0,
        )
    assert gen.shape == (2, 11)
    assert torch.equal(gen, _greedy_uncached(model, ids, mask, 5))


def test_generation_with_beam_search():
    model = apply_method(tiny_gpt2(), "prelayer", l_p=2, l_i=2)
    _randomise(model)
    with torch.no_grad():
        gen = model.generate(
            input_ids=_prompt(2, 5), max_new_tokens=4, num_beams=3, do_sample=False, pad_token_id=0
        )
    assert gen.shape[1] == 9


def test_prefix_must_fit_the_positions():
    with pytest.raises(ValueError, match="no room"):
        apply_method(tiny_gpt2(), "preembed", l_p=60, l_i=4)  # n_positions = 64
    model = apply_method(tiny_gpt2(), "prelayer", l_p=30, l_i=4)
    with pytest.raises(ValueError, match=r"30 \+ 4 \+ 40 = 74 exceeds the model's 64 positions"):
        model(input_ids=_prompt(1, 40))
    enc = apply_method(tiny_roberta(), "preembed", l_p=30, l_i=4)  # 40 - 2 reserved = 38 positions
    with pytest.raises(ValueError, match="exceeds the model's 38 positions"):
        enc(input_ids=_prompt(1, 5))


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="l_p must be a non-negative integer"):
        apply_method(tiny_gpt2(), "preembed", l_p=-1, l_i=2)
    with pytest.raises(ValueError, match="at least 1"):
        apply_method(tiny_gpt2(), "prelayer", l_p=0, l_i=0)
    model = apply_method(tiny_gpt2(), "preembed", l_p=2, l_i=2)
    with pytest.raises(ValueError, match="context_lengths must lie in 0..6"):
        model(input_ids=_prompt(2, 6), context_lengths=7)


def test_has_prefix_tells_the_trainer_when_to_pass_context_lengths():
    assert has_prefix(apply_method(tiny_gpt2(), "lora_pl", r=2, l_p=1, l_i=1))
    assert not has_prefix(apply_method(tiny_gpt2(), "lora", r=2))
    assert not has_prefix(tiny_roberta())


@pytest.mark.parametrize("method", ["prelayer", "lora_pl"])
def test_gradient_checkpointing_gives_the_same_gradients(method):
    """Checkpointed blocks may re-run their hooks in backward (torch's checkpoint_wrapper does; transformers
    5's own checkpointing keeps hooks outside): the virtual activations must be replaced there too."""
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

    ids = _prompt(2, 8)
    grads = []
    for checkpointing in (False, True):
        model = apply_method(tiny_gpt2(), method, **PREFIX_METHODS[method])
        _randomise(model)
        model.train()
        if checkpointing:
            blocks = model.transformer.h
            for i in range(len(blocks)):
                blocks[i] = checkpoint_wrapper(blocks[i])
        model(input_ids=ids, labels=ids, context_lengths=3, use_cache=False).loss.backward()
        grads.append(getattr(model, PREFIX_ATTR).layers.grad.clone())
    torch.testing.assert_close(grads[1], grads[0])
