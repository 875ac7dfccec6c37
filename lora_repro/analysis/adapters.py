"""Saved adapters read for an analysis, refused with one clear line when they do not fit it.

An analysis compares adapters of one base model (the same frozen weights: the fingerprint
``save_adapter`` records) with the rank and targets the figure asks for; anything else is a
``ValueError`` naming the adapter, the bad value and what the figure needs. Layers are named as the
paper's figures name them, by position in the stack (``layer_index``).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from lora_repro.analysis.updates import LowRankUpdate, lora_updates
from lora_repro.methods.io import CONFIG_NAME, base_fingerprint, load_adapter, read_config
from lora_repro.models.arch import spec_for

# A layer by its place in the stack, as a fraction f of the depth L: the 1-based layer round(f·L)
# (at least 1). At L = 96 (GPT-3) these are the paper's layers 1, 32, 48, 64 and 96.
LAYER_POSITIONS: dict[str, float] = {
    "first": 0.0,
    "third": 1 / 3,
    "middle": 1 / 2,
    "two_thirds": 2 / 3,
    "last": 1.0,
}


def layer_index(position: str | int, n_layers: int) -> int:
    """The 0-based block of a named position (``first``, ``third``, ``middle``, ``two_thirds``, ``last``)
    or of a 1-based layer number, in a stack of ``n_layers`` blocks."""
    if isinstance(position, bool):
        raise ValueError(f"layer {position!r}: expected a name {list(LAYER_POSITIONS)} or a 1-based number")
    if isinstance(position, int):
        if not 1 <= position <= n_layers:
            raise ValueError(f"layer {position} out of range; allowed 1..{n_layers} (1-based)")
        return position - 1
    if position not in LAYER_POSITIONS:
        raise ValueError(f"unknown layer {position!r}; allowed: {list(LAYER_POSITIONS)} or 1..{n_layers}")
    return max(1, round(LAYER_POSITIONS[position] * n_layers)) - 1


def adapter_record(path: str | os.PathLike) -> dict[str, Any]:
    """The ``lora_repro`` section of an adapter's config (methods, model type, base fingerprint);
    empty for a PEFT adapter."""
    cfg_file = Path(path) / CONFIG_NAME
    if not cfg_file.is_file():
        raise FileNotFoundError(f"{cfg_file} not found: not an adapter directory (save_adapter writes one)")
    return dict(read_config(cfg_file).get("lora_repro") or {})


def check_same_base(paths: Sequence[str | os.PathLike]) -> None:
    """Refuse adapters trained on different base models (different recorded fingerprints or types)."""
    seen: dict[tuple[Any, Any], str] = {}
    for p in paths:
        rec = adapter_record(p)
        key = (rec.get("model_type"), rec.get("base_fingerprint"))
        seen.setdefault(key, str(p))
    if len(seen) > 1:
        (k1, p1), (k2, p2) = list(seen.items())[:2]
        raise ValueError(
            f"adapters come from different base models: {p1} (model_type {k1[0]!r}, base {k1[1]}) vs "
            f"{p2} (model_type {k2[0]!r}, base {k2[1]}); compare adapters of one base model"
        )


def check_updates(
    updates: Sequence[LowRankUpdate],
    where: str,
    rank: int | None = None,
    targets: Iterable[str] | None = None,
) -> None:
    """Refuse updates whose rank or set of targets is not the asked-for one."""
    ranks = sorted({u.rank for u in updates})
    if rank is not None and ranks != [int(rank)]:
        raise ValueError(
            f"{where}: adapter has LoRA rank r={ranks[0] if len(ranks) == 1 else ranks}; this analysis needs r={rank}"
        )
    if targets is not None:
        have = sorted({u.target for u in updates})
        want = sorted(dict.fromkeys(targets))
        if have != want:
            raise ValueError(f"{where}: adapter adapts targets {have}; this analysis needs targets {want}")


def read_updates(
    base: nn.Module, path: str | os.PathLike, rank: int | None = None, targets: Iterable[str] | None = None
) -> tuple[nn.Module, list[LowRankUpdate]]:
    """A copy of ``base`` with the adapter at ``path`` loaded, and its LoRA updates.

    ``base`` itself is left untouched, so one base model serves several adapters. Refused (ValueError):
    an adapter trained on other base weights, or with another rank or other targets than asked for."""
    rec = adapter_record(path)
    methods = [m.get("name") for m in rec.get("methods") or []]
    if rec and methods != ["lora"]:
        raise ValueError(f"{path}: adapter holds method(s) {methods}; this analysis reads LoRA adapters only")
    fp = rec.get("base_fingerprint")
    if fp not in (None, "meta") and fp != base_fingerprint(base):
        raise ValueError(
            f"{path}: adapter was trained on another base model (fingerprint {fp}, this base "
            f"{base_fingerprint(base)}): load the base model it was trained on"
        )
    model = load_adapter(copy.deepcopy(base), path)
    updates = lora_updates(model)
    check_updates(updates, str(path), rank, targets)
    return model, updates


def update_at(
    updates: Sequence[LowRankUpdate], block: int, target: str, where: str = "adapter"
) -> LowRankUpdate:
    """The update of ``target`` in 0-based ``block``, with an error listing what the adapter holds."""
    for u in updates:
        if u.block == block and u.target == target:
            return u
    have = sorted({(u.block, u.target) for u in updates})
    raise ValueError(f"{where}: no LoRA update of {target!r} in block {block}; it holds {have[:8]}")


def model_depth(model: nn.Module) -> int:
    """How many Transformer blocks ``model`` has (its architecture map's blocks)."""
    return sum(1 for _ in spec_for(model).iter_blocks(model))
