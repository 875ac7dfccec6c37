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


class _Beams:
    """The K running beams of each of B prompts, and the best finished hypothesis of each prompt."""

    def __init__(self, B: int, K: int, cfg: BeamConfig, device) -> None:
        self.B, self.K, self.cfg = B, K, cfg
        self.scores = torch.zeros(B, K, device=device)
        self.scores[:, 1:] = float("-inf")  # all beams start identical: expand from the first only
        self.history = torch.empty(B * K, 0, dtype=torch.long, device=device)
        self.best_score = torch.full((B,), float("-inf"))
        self.best_seq: list[list[int]] = [[] for _ in range(B)]
        self.done = torch.zeros(B, dtype=torch.bool)
        self.offsets = (torch.arange(B, device=device) * K)[:, None]
        self.max_den = float(cfg.max_new_tokens) ** cfg.length_penalty

    def advance(self, logits: torch.Tensor, eos_id: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Extend every beam by one token from ``logits`` [B*K, V]; returns (tokens [B, K], source rows)."""
        B, K, cfg = self.B, self.K, self.cfg
        logp = F.log_softmax(logits, dim=-1)
        for row, toks in enumerate(_banned(self.history, cfg.no_repeat_ngram_size)):
            if toks:
                logp[row, toks] = float("-inf")
        V = logp.shape[-1]
        cand = (self.scores.view(-1, 1) + logp).view(B, K * V)
        top_scores, top_idx = cand.topk(K, dim=1)  # [B, K]
        beam_src = top_idx // V
        tokens = top_idx % V
        flat_src = (beam_src + self.offsets).view(-1)
        self.history = torch.cat([self.history[flat_src], tokens.view(-1, 1)], dim=1)
        self.scores = top_scores.clone()
        finished = tokens == eos_id
        for b, k in finished.nonzero().tolist():
            s = float(top_scores[b, k]) / length**cfg.length_penalty
            if s > self.best_score[b] and not self.done[b]:
                self.best_score[b] = s
                self.best_seq[b] = self.history[b * K + k, :-1].tolist()
        self.scores[finished] = float("-inf")
        bound = self.scores.max(dim=1).values.cpu() / self.max_den
        self.done |= (self.best_score > float("-inf")) & (self.best_score >= bound)
        return tokens, flat_src

    def finish(self) -> list[list[int]]:
        """The best hypothesis of each prompt; unfinished beams compete as in the reference
        (``_add_beam_candidate`` at the end)."""
        length = self.history.shape[1]
        for b in range(self.B):
            if self.done[b]:
                continue
            for k in range(self.K):
                if self.scores[b, k] == float("-inf"):
                    continue
                s = float(self.scores[b, k]) / length**self.cfg.length_penalty
                if s > self.best_score[b]:
                    self.best_score[b] = s
                    self.best_seq[b] = self.history[b * self.K + k].tolist()
        return self.best_seq


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
    beams = _Beams(B, K, cfg, device)
    for step in range(cfg.max_new_tokens):
        cache, logits = output_cache(out), out.logits[:, -1, :].float()
        tokens, flat_src = beams.advance(logits, eos_id, step + 1)
        stop = bool(beams.done.all())
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
    return beams.finish()


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
