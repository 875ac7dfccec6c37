"""Evaluation of one epoch: loss and task metrics on validation, generation and metrics on test.

Work is sharded over processes (rank r takes items r, r + world, ...) and gathered back in order,
so every rank ends with the same numbers. When the parameters themselves are sharded (FSDP, ZeRO-3), each
forward pass is a collective: every rank then runs the same number of batches (a rank whose share is
used up runs a dummy batch and drops its output) and beam search steps until every rank is done.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from lora_repro.train.data import IGNORE, Example, collate, eval_chunks


def token_loss_sum(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Summed next-token cross entropy over the positions whose label is not ignored."""
    shift_logits, shift_labels = logits[:, :-1], labels[:, 1:]
    keep = shift_labels != IGNORE
    return F.cross_entropy(
        shift_logits[keep].float(), shift_labels[keep], reduction="sum", label_smoothing=label_smoothing
    )


def loss_sum(logits: torch.Tensor, labels: torch.Tensor, family: str, regression: bool, smoothing: float):
    """Summed loss of a batch: token CE (decoders), CE or MSE (encoders)."""
    if family == "decoder":
        return token_loss_sum(logits, labels, smoothing)
    if regression:
        return F.mse_loss(logits.view(-1).float(), labels.float(), reduction="sum")
    return F.cross_entropy(logits.float(), labels, reduction="sum", label_smoothing=smoothing)


def forward(model, batch: dict[str, torch.Tensor], family: str, prefix: bool) -> torch.Tensor:
    """Logits of a collated batch (decoders with prefix tuning get ``context_lengths``)."""
    kw = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if family == "decoder" and prefix:
        kw["context_lengths"] = batch["context_lengths"]
    return model(**kw).logits


def _shard(items: list, rank: int, world: int) -> list[tuple[int, Any]]:
    return [(i, items[i]) for i in range(rank, len(items), world)]


def lockstep_batches(model, n_items: int, batch_size: int, world: int) -> int | None:
    """How many batches every rank must run when forward passes are collective, else None."""
    from lora_repro.train.sharding import params_sharded

    if world == 1 or not params_sharded(model):
        return None
    return math.ceil(math.ceil(n_items / world) / max(1, batch_size))


def _gather(accelerator, pairs: list[tuple[int, Any]], n: int) -> list:
    if accelerator.num_processes > 1:
        from accelerate.utils import gather_object

        pairs = gather_object([pairs])
        pairs = [p for chunk in pairs for p in chunk]
    out = [None] * n
    for i, v in pairs:
        out[i] = v
    return out


@torch.no_grad()
def predict(
    accelerator,
    model,
    examples: list[Example],
    batch_size: int,
    pad_id: int,
    family: str,
    regression: bool,
    prefix: bool,
) -> tuple[list, float, int]:
    """Predictions (encoders: class ids / floats; decoders: none) and the summed loss with its count."""
    model.eval()
    device = accelerator.device
    world = accelerator.num_processes
    mine = _shard(examples, accelerator.process_index, world)
    results: list[tuple[int, Any]] = []
    total, count = 0.0, 0
    for chunk in eval_chunks(mine, batch_size, lockstep_batches(model, len(examples), batch_size, world)):
        exs = [e for _, e in chunk] or examples[:1]  # a dummy batch keeps the collectives in step
        batch = {k: v.to(device) for k, v in collate(exs, pad_id, family, regression).items()}
        with accelerator.autocast():
            logits = forward(model, batch, family, prefix)
        if not chunk:
            continue
        total += float(loss_sum(logits, batch["labels"], family, regression, 0.0))
        count += sum(e.n_targets for _, e in chunk)
        if family == "encoder":
            preds = logits.view(-1).float().tolist() if regression else logits.argmax(-1).tolist()
            results += [(idx, p) for (idx, _), p in zip(chunk, preds, strict=True)]
        else:
            results += [(idx, None) for idx, _ in chunk]
    if accelerator.num_processes > 1:
        t = torch.tensor([total, float(count)], dtype=torch.float64, device=device)
        t = accelerator.reduce(t, reduction="sum")
        total, count = float(t[0]), int(t[1])
    return _gather(accelerator, results, len(examples)), total, count


def validation_metrics(model, cell, cfg) -> dict[str, float]:
    """Validation loss, plus the task metric: GLUE on encoders, or on decoders from generated labels.

    ``cell``: the running cell (train/setup.py ``RunningCell``): its accelerator, task, validation examples
    and, for decoder classification, the validation prompts (``val_items``) and tokenizer."""
    from lora_repro.metrics import score

    acc, task, examples, family = cell.accelerator, cell.task, cell.validation, cell.family
    pad_id = cell.tokenizer.pad_token_id
    preds, total, count = predict(
        acc, model, examples, cfg.eval.batch_size, pad_id, family, cell.regression, cell.prefix
    )
    out = {"loss": total / max(1, count)}
    if family == "encoder":
        labels = [e.labels for e in examples]
        out.update({k: float(v) for k, v in score(task.metric, preds, labels).items()})
    elif cell.val_items is not None:
        items = cell.val_items
        preds, _ = decoder_labels(acc, acc.unwrap_model(model), cell.tokenizer, task, items, cfg)
        out.update({k: float(v) for k, v in score(task.metric, preds, [i["label"] for i in items]).items()})
    return out


def label_words(task) -> list[str]:
    """Each class's verbalised label, as ``task.format(row, "decoder")["target"]`` writes it (" entailment")."""
    words = getattr(task, "label_words", None)
    return list(words) if words is not None else [f" {n}" for n in task.label_names or []]


def label_token_ids(tokenizer, words: list[str]) -> list[list[int]]:
    """The label words tokenised alone, as the training targets are (``encode_example``)."""
    ids = [list(tokenizer(w, add_special_tokens=False)["input_ids"]) for w in words]
    empty = [w for w, i in zip(words, ids, strict=True) if not i]
    if empty:
        raise ValueError(f"label word(s) {empty} tokenise to nothing; every label needs at least one token")
    return ids


@torch.no_grad()
def label_loglik(
    model,
    prompts: list[list[int]],
    labels: list[list[int]],
    batch_size: int,
    pad_id: int,
    prefix: bool,
    device=None,
    lockstep: int | None = None,
) -> torch.Tensor:
    """``[len(prompts), len(labels)]``: the summed log-likelihood of each label's tokens after each prompt.

    Each (prompt, label) pair is one right-padded sequence ``prompt + label`` through :func:`forward`,
    as in training (prefix methods get ``context_lengths`` = the prompt's length, so the infix sits
    between prompt and label). ``lockstep``: batches every rank must run (sharded parameters)."""
    model.eval()
    n_labels = len(labels)
    seqs = [
        Example(p + lab, [IGNORE] * len(p) + lab, len(lab)) for p in prompts for lab in labels
    ]  # prompt-major: row i * n_labels + c
    dummy = Example([pad_id, pad_id], [IGNORE, pad_id], 1)
    out: list[float] = []
    for chunk in eval_chunks(seqs, batch_size, lockstep):
        batch = collate(chunk or [dummy], pad_id, "decoder")
        batch = {k: v.to(device) if device is not None else v for k, v in batch.items()}
        logits = forward(model, batch, "decoder", prefix)
        if not chunk:
            continue
        target = batch["labels"][:, 1:]
        keep = target != IGNORE  # only the label positions go through log_softmax (memory: T x V)
        logp = torch.log_softmax(logits[:, :-1][keep].float(), dim=-1)
        picked = logp.gather(-1, target[keep].unsqueeze(-1)).squeeze(-1).double()
        row = keep.nonzero()[:, 0]
        out += (
            torch.zeros(len(chunk), dtype=torch.float64, device=picked.device)
            .index_add_(0, row, picked)
            .tolist()
        )
    return torch.tensor(out, dtype=torch.float64).view(len(prompts), n_labels)


def context_window(model, cfg) -> int:
    """Tokens one few-shot sequence may hold: ``method.max_length``, else the model's context window."""
    from lora_repro.models.arch import spec_for

    given = cfg.method.get("max_length")
    if given is not None:
        return int(given)
    limit = spec_for(model).max_positions(model.config)
    return int(limit) if limit is not None else int(cfg.train.max_length)


def label_prompts(model, tokenizer, task, items: list[dict], cfg, reserve: int) -> list[list[int]]:
    """Decoder prompts of ``items`` with room for ``reserve`` more tokens: ``x + [bos]`` truncated to
    ``train.max_length``, or for ``method=fewshot`` the demonstrations first (lora_repro/train/fewshot.py)."""
    from lora_repro.tasks.base import prompt_ids
    from lora_repro.train.fewshot import fewshot_prompts, is_fewshot

    if is_fewshot(cfg):
        return fewshot_prompts(task, tokenizer, items, cfg, max(1, context_window(model, cfg) - reserve))
    max_prompt = max(1, int(cfg.train.max_length) - reserve)
    return [prompt_ids(it["text"], tokenizer, max_prompt) for it in items]


def decoder_labels(accelerator, model, tokenizer, task, items: list[dict], cfg) -> tuple[list, list[str]]:
    """Labels a decoder predicts for classification/regression prompts, and the text of each.

    ``eval.decoder_labels=likelihood`` (the default; classification): the label word with the highest
    summed log-likelihood given the prompt (:func:`label_loglik`; its text is that word).
    ``generate`` (and always for STS-B): greedy generation after the prompt, read back by
    ``task.parse_generated_label`` (class id, -1 for unknown text; STS-B's number).
    """
    from lora_repro.train.fewshot import scorer

    world, bs = accelerator.num_processes, int(cfg.eval.batch_size)
    mine = _shard(items, accelerator.process_index, world)
    if scorer(task, cfg) == "likelihood":
        words = label_words(task)
        labels = label_token_ids(tokenizer, words)
        prompts = label_prompts(model, tokenizer, task, [it for _, it in mine], cfg, max(map(len, labels)))
        lock = lockstep_batches(model, len(items), 1, world)  # None, or this rank's most prompts
        lock = None if lock is None else math.ceil(lock * len(labels) / max(1, bs))
        with accelerator.autocast():
            scores = label_loglik(
                model, prompts, labels, bs, tokenizer.pad_token_id, prefix_of(model), accelerator.device, lock
            )
        best = scores.argmax(dim=1).tolist() if prompts else []
        pairs = [(i, (c, words[c].strip())) for (i, _), c in zip(mine, best, strict=True)]
        found = _gather(accelerator, pairs, len(items))
        return [c for c, _ in found], [t for _, t in found]
    return generated_labels(accelerator, model, tokenizer, task, items, cfg, mine)


def prefix_of(model) -> bool:
    """True when the model carries prefix/infix tokens (they need ``context_lengths``)."""
    return hasattr(model, "prefix_tuning")


def generated_labels(accelerator, model, tokenizer, task, items, cfg, mine) -> tuple[list, list[str]]:
    """The ``generate`` scorer of :func:`decoder_labels`: greedy, then ``task.parse_generated_label``."""
    from lora_repro.train.generation import BeamConfig, generate_texts

    names = list(task.label_names or [])
    longest = max([len(tokenizer(" " + n, add_special_tokens=False)["input_ids"]) for n in names] or [4])
    beam = BeamConfig(beam_size=1, length_penalty=1.0, no_repeat_ngram_size=0, max_new_tokens=longest + 1)
    world, bs = accelerator.num_processes, int(cfg.eval.batch_size)
    prompts = label_prompts(model, tokenizer, task, [it for _, it in mine], cfg, beam.max_new_tokens)
    texts = generate_texts(
        model, tokenizer, prompts, beam, bs, lockstep=lockstep_batches(model, len(items), bs, world)
    )
    texts = _gather(accelerator, [(i, t) for (i, _), t in zip(mine, texts, strict=True)], len(items))
    return [task.parse_generated_label(t) for t in texts], texts


def generate_groups(accelerator, model, tokenizer, groups: list[dict], cfg, bar=None) -> list[str]:
    """Beam-search outputs for each eval group's input, sharded over processes."""
    from lora_repro.tasks.base import prompt_ids
    from lora_repro.train.generation import BeamConfig, generate_texts

    g = cfg.generation
    beam = BeamConfig(
        int(g.beam_size), float(g.length_penalty), int(g.no_repeat_ngram_size), int(g.max_new_tokens)
    )
    max_prompt = max(1, int(cfg.train.max_length) - beam.max_new_tokens)
    world, bs = accelerator.num_processes, int(g.batch_size)
    mine = _shard(groups, accelerator.process_index, world)
    prompts = [prompt_ids(gr["text"], tokenizer, max_prompt) for _, gr in mine]
    lockstep = lockstep_batches(model, len(groups), bs, world)
    texts = generate_texts(model, tokenizer, prompts, beam, bs, progress=bar, lockstep=lockstep)
    return _gather(accelerator, [(i, t) for (i, _), t in zip(mine, texts, strict=True)], len(groups))


def is_better(value: float, best: float | None, mode: str) -> bool:
    """Strictly better than the best so far (the first epoch always is)."""
    if best is None or (isinstance(best, float) and math.isnan(best)):
        return True
    return value > best if mode == "max" else value < best
