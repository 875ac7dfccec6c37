"""Batched beam search with the KV cache, with the reference code's scoring rules.

It follows microsoft/LoRA's ``gpt2_beam.py`` (what produced the paper's NLG numbers), which differs
from ``transformers``' ``generate`` in two ways that matter for E2E/WebNLG/DART:

* a finished hypothesis scores ``sum(log p) / len ** length_penalty`` with ``len`` the number of
  *generated* tokens (the EOS included), the prompt excluded;
* ``no_repeat_ngram_size`` bans n-grams repeated inside the generated text only; the prompt's
  n-grams stay allowed (an E2E output must copy multi-token names from its meaning representation).

Each step keeps the ``beam_size`` best continuations of every input; a continuation that emits EOS
becomes a finished candidate and its beam is refilled from the rest. After ``max_new_tokens`` steps
the best candidate wins (unfinished beams compete too). An input stops early once no running beam
can beat its best finished candidate (exact for ``length_penalty >= 0``: a running score only
falls, and its denominator is at most ``max_new_tokens ** length_penalty``).

Works for every method, prefix methods included: the prompt is left-padded, the attention mask and
position ids follow the padding, and the cache is a ``transformers`` ``DynamicCache`` reordered in
place (prefix tuning keeps its virtual tokens in that cache).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lora_repro.train.data import eval_chunks, left_pad


@dataclass(frozen=True)
class BeamConfig:
    """Decoding settings (the paper's Table 11 row: beam 10, length penalty 0.9/0.8, no-repeat 4)."""

    beam_size: int = 10
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = 4
    max_new_tokens: int = 64


def _banned(history: torch.Tensor, n: int) -> list[list[int]]:
    """Tokens that would repeat an n-gram of each row's generated history (fairseq's rule)."""
    rows, cur = history.shape
    if n <= 0 or cur + 1 < n:
        return [[] for _ in range(rows)]
    out = []
    for row in history.tolist():
        prefix = tuple(row[cur + 1 - n :]) if n > 1 else ()
        seen = [row[i + n - 1] for i in range(cur - n + 1) if tuple(row[i : i + n - 1]) == prefix]
        out.append(seen)
    return out


@torch.no_grad()
def beam_search(
    model, prompts: list[list[int]], eos_id: int, pad_id: int, cfg: BeamConfig, lockstep: bool = False
) -> list[list[int]]:
    """Decode each prompt (token ids, context x + separator); returns the generated ids without EOS.

    ``lockstep`` (parameters sharded across ranks, every forward pass a collective): keep stepping
    until every rank's batch is done. A batch that is done already gains nothing from more steps (its
    inputs take no new candidates), so the outputs are those of stopping early.
    """
    from transformers import DynamicCache

    from lora_repro.models.cache import cache_kwarg, output_cache
    from lora_repro.train.sharding import all_ranks

    if cfg.beam_size < 1 or cfg.max_new_tokens < 1:
        raise ValueError(
            f"beam_size and max_new_tokens must be >= 1, got {cfg.beam_size}, {cfg.max_new_tokens}"
        )
    device = next(model.parameters()).device
    B, K = len(prompts), int(cfg.beam_size)
    ids, mask = left_pad(prompts, pad_id)
    ids = ids.repeat_interleave(K, 0).to(device)  # [B*K, T]
    mask = mask.repeat_interleave(K, 0).to(device)
    pos = (mask.cumsum(1) - 1).clamp(min=0)
    cache_name = cache_kwarg(model)
    out = model(
        input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True, **{cache_name: DynamicCache()}
    )
    cache = output_cache(out)
    logits = out.logits[:, -1, :].float()
    beam_scores = torch.zeros(B, K, device=device)
    beam_scores[:, 1:] = float("-inf")  # all beams start identical: expand from the first only
    history = torch.empty(B * K, 0, dtype=torch.long, device=device)
    best_score = torch.full((B,), float("-inf"))
    best_seq: list[list[int]] = [[] for _ in range(B)]
    done = torch.zeros(B, dtype=torch.bool)
    offsets = (torch.arange(B, device=device) * K)[:, None]
    max_den = float(cfg.max_new_tokens) ** cfg.length_penalty
    for step in range(cfg.max_new_tokens):
        logp = F.log_softmax(logits, dim=-1)
        for row, toks in enumerate(_banned(history, cfg.no_repeat_ngram_size)):
            if toks:
                logp[row, toks] = float("-inf")
        V = logp.shape[-1]
        cand = (beam_scores.view(-1, 1) + logp).view(B, K * V)
        top_scores, top_idx = cand.topk(K, dim=1)  # [B, K]
        beam_src = top_idx // V
        tokens = top_idx % V
        flat_src = (beam_src + offsets).view(-1)
        history = torch.cat([history[flat_src], tokens.view(-1, 1)], dim=1)
        beam_scores = top_scores.clone()
        length = step + 1
        finished = tokens == eos_id
        for b, k in finished.nonzero().tolist():
            s = float(top_scores[b, k]) / length**cfg.length_penalty
            if s > best_score[b] and not done[b]:
                best_score[b] = s
                best_seq[b] = history[b * K + k, :-1].tolist()
        beam_scores[finished] = float("-inf")
        bound = beam_scores.max(dim=1).values.cpu() / max_den
        done |= (best_score > float("-inf")) & (best_score >= bound)
        stop = bool(done.all())
        if lockstep:
            stop = all_ranks(stop, device)
        if stop or step + 1 == cfg.max_new_tokens:
            break
        cache.reorder_cache(flat_src)
        mask = torch.cat([mask[flat_src], mask.new_ones(B * K, 1)], dim=1)
        pos = (mask.sum(1, keepdim=True) - 1).clamp(min=0)
        out = model(
            input_ids=tokens.view(-1, 1),
            attention_mask=mask,
            position_ids=pos,
            use_cache=True,
            **{cache_name: cache},
        )
        cache = output_cache(out)
        logits = out.logits[:, -1, :].float()
    length = history.shape[1]
    for b in range(B):  # unfinished beams compete as in the reference (_add_beam_candidate at the end)
        if done[b]:
            continue
        for k in range(K):
            if beam_scores[b, k] == float("-inf"):
                continue
            s = float(beam_scores[b, k]) / length**cfg.length_penalty
            if s > best_score[b]:
                best_score[b] = s
                best_seq[b] = history[b * K + k].tolist()
    return best_seq


def generate_texts(
    model,
    tokenizer,
    prompts: list[list[int]],
    cfg: BeamConfig,
    batch_size: int,
    progress=None,
    lockstep: int | None = None,
) -> list[str]:
    """Beam-search every prompt in batches; decoded, stripped strings in prompt order.

    ``lockstep``: the number of batches every rank runs when the parameters are sharded (FSDP); a rank
    whose prompts are used up decodes a one-token dummy prompt and drops the output.
    """
    model.eval()
    texts: list[str] = []
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    for chunk in eval_chunks(prompts, batch_size, lockstep):
        seqs = beam_search(model, chunk or [[eos]], eos, pad, cfg, lockstep=lockstep is not None)
        if not chunk:
            continue
        for seq in seqs:
            texts.append(tokenizer.decode(seq, skip_special_tokens=True).strip())
        if progress is not None:
            progress.update(len(chunk))
    return texts
