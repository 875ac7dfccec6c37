"""Beam search with the KV cache: greedy equivalence, batching with left padding, n-gram bans, prefixes."""

from __future__ import annotations

import torch

from lora_repro.train.generation import BeamConfig, _banned, beam_search


def _model(seed: int = 0):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    cfg = GPT2Config(
        vocab_size=50, n_positions=64, n_embd=32, n_layer=2, n_head=2, pad_token_id=1, eos_token_id=2
    )
    return GPT2LMHeadModel(cfg).eval()


def _greedy_no_cache(model, prompt, steps, eos):
    ids, out = list(prompt), []
    for _ in range(steps):
        with torch.no_grad():
            nxt = int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
        if nxt == eos:
            break
        out.append(nxt)
        ids.append(nxt)
    return out


PROMPTS = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14, 15, 16, 17, 18, 19]]


def test_beam_one_is_greedy_without_cache():
    model = _model()
    cfg = BeamConfig(beam_size=1, length_penalty=1.0, no_repeat_ngram_size=0, max_new_tokens=10)
    got = beam_search(model, PROMPTS, eos_id=2, pad_id=1, cfg=cfg)
    assert got == [_greedy_no_cache(model, p, 10, 2) for p in PROMPTS]


def test_batched_equals_one_by_one():
    model = _model(1)
    cfg = BeamConfig(beam_size=3, length_penalty=0.9, no_repeat_ngram_size=2, max_new_tokens=8)
    together = beam_search(model, PROMPTS, eos_id=2, pad_id=1, cfg=cfg)
    alone = [beam_search(model, [p], eos_id=2, pad_id=1, cfg=cfg)[0] for p in PROMPTS]
    assert together == alone


def test_no_repeat_ngram_bans_only_generated_ngrams():
    hist = torch.tensor([[3, 4, 3], [5, 6, 7]])
    assert _banned(hist, 2) == [[4], []]  # "3 4" was generated: after a 3, 4 is banned
    assert _banned(hist, 0) == [[], []]
    model = _model(2)
    cfg = BeamConfig(beam_size=2, length_penalty=1.0, no_repeat_ngram_size=2, max_new_tokens=20)
    for seq in beam_search(model, PROMPTS, eos_id=2, pad_id=1, cfg=cfg):
        bigrams = list(zip(seq, seq[1:], strict=False))
        assert len(bigrams) == len(set(bigrams))


def test_beam_search_with_prefix_layer_tuning():
    from lora_repro.methods import apply_method

    model = _model(3)
    apply_method(model, "prelayer", l_p=3, l_i=2)
    cfg = BeamConfig(beam_size=2, length_penalty=0.8, no_repeat_ngram_size=3, max_new_tokens=6)
    together = beam_search(model, PROMPTS, eos_id=2, pad_id=1, cfg=cfg)
    alone = [beam_search(model, [p], eos_id=2, pad_id=1, cfg=cfg)[0] for p in PROMPTS]
    assert together == alone
    greedy = beam_search(model, PROMPTS[:1], 2, 1, BeamConfig(1, 1.0, 0, 6))[0]
    ids = list(PROMPTS[0])
    for tok in greedy:  # the cached decode agrees with full recomputation through the prefix hooks
        with torch.no_grad():
            assert int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax()) == tok
        ids.append(tok)
