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


def decoder_labels(accelerator, model, tokenizer, task, items: list[dict], cfg) -> tuple[list, list[str]]:
    """Labels a decoder generates for classification/regression prompts (greedy; unknown text -> -1).

    The verbalised label (``task.format(row, "decoder")["target"]``, e.g. " entailment") is generated
    after the prompt and read back by ``task.parse_generated_label`` (class id; STS-B's number).
    """
    from lora_repro.tasks.base import prompt_ids
    from lora_repro.train.generation import BeamConfig, generate_texts

    names = list(task.label_names or [])
    longest = max([len(tokenizer(" " + n, add_special_tokens=False)["input_ids"]) for n in names] or [4])
    beam = BeamConfig(beam_size=1, length_penalty=1.0, no_repeat_ngram_size=0, max_new_tokens=longest + 1)
    max_prompt = max(1, int(cfg.train.max_length) - beam.max_new_tokens)
    world, bs = accelerator.num_processes, int(cfg.eval.batch_size)
    mine = _shard(items, accelerator.process_index, world)
    prompts = [prompt_ids(it["text"], tokenizer, max_prompt) for _, it in mine]
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
