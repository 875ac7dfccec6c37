"""From a task's splits to padded tensors: tokenised examples, deterministic global batches.

Training order is a permutation drawn from ``(seed, epoch)`` alone, and a global batch is split
the same way whatever the number of processes: the first ``grad_accum`` micro-batches in order,
each cut into ``num_processes`` near-equal parts. That makes one process and several processes
see the same examples per optimizer step, and makes a resumed epoch replay exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

IGNORE = -100


@dataclass
class Example:
    """One tokenised example: ``labels`` is a class id / float (encoder) or per-token ids (decoder)."""

    input_ids: list[int]
    labels: Any
    n_targets: int  # positions that count in the loss (target tokens; 1 for classification)


def subset(ds, limit: int | None, seed: int = 0):
    """The first ``limit`` rows of a fixed shuffle of ``ds`` (whole ``ds`` if ``limit`` is None)."""
    if limit is None or limit >= len(ds):
        return ds
    return ds.shuffle(seed=seed).select(range(int(limit)))


def encode(task, ds, tokenizer, family: str, max_length: int) -> list[Example]:
    """Tokenise a split with the task's own rule (``Task.tokenize``)."""
    tok = task.tokenize(ds, tokenizer, family, max_length)
    out = []
    for ids, labels in zip(tok["input_ids"], tok["labels"], strict=True):
        if family == "decoder":
            n = sum(1 for t in labels if t != IGNORE)
        else:
            n = 1
        out.append(Example(list(ids), labels, n))
    return out


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The example order of one epoch (depends only on seed and epoch)."""
    gen = torch.Generator().manual_seed(1_000_003 * int(seed) + int(epoch))
    return torch.randperm(n, generator=gen).tolist()


def global_batches(order: list[int], batch_size: int) -> list[list[int]]:
    """Consecutive global batches of ``order`` (the last one may be smaller)."""
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def eval_chunks(items: list, size: int, at_least: int | None = None) -> list[list]:
    """``items`` in chunks of ``size``, then empty chunks up to ``at_least`` chunks (sharded
    parameters: every rank must run as many forward passes as the rank with the most inputs)."""
    chunks = global_batches(items, max(1, size))
    return chunks + [[] for _ in range((at_least or 0) - len(chunks))]


def split_parts(indices: list[int], parts: int) -> list[list[int]]:
    """Cut ``indices`` into ``parts`` near-equal consecutive pieces (some may be empty)."""
    q, r = divmod(len(indices), parts)
    out, start = [], 0
    for p in range(parts):
        size = q + (1 if p < r else 0)
        out.append(indices[start : start + size])
        start += size
    return out


def micro_batches(batch: list[int], grad_accum: int, world: int, rank: int) -> list[list[int]]:
    """This rank's share of each micro-batch of a global batch."""
    return [split_parts(m, world)[rank] for m in split_parts(batch, grad_accum)]


def collate(
    examples: list[Example], pad_id: int, family: str, regression: bool = False
) -> dict[str, torch.Tensor]:
    """Right-padded tensors: input_ids, attention_mask, labels (and context_lengths for decoders)."""
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        ids[i, : len(e.input_ids)] = torch.tensor(e.input_ids, dtype=torch.long)
        mask[i, : len(e.input_ids)] = 1
    batch = {"input_ids": ids, "attention_mask": mask}
    if family == "decoder":
        labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
        ctx = torch.zeros(len(examples), dtype=torch.long)
        for i, e in enumerate(examples):
            labels[i, : len(e.labels)] = torch.tensor(e.labels, dtype=torch.long)
            ctx[i] = next((j for j, t in enumerate(e.labels) if t != IGNORE), len(e.labels))
        batch["labels"] = labels
        batch["context_lengths"] = ctx
    else:
        dtype = torch.float if regression else torch.long
        batch["labels"] = torch.tensor([e.labels for e in examples], dtype=dtype)
    return batch


def left_pad(prompts: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded prompts for batched generation: (input_ids, attention_mask)."""
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        if p:
            ids[i, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            mask[i, width - len(p) :] = 1
    return ids, mask
