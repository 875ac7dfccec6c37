"""Few-shot in-context learning (``fewshot``, the paper's Table 8): nothing is injected, nothing trains.

The cell only evaluates (``train.epochs=0``; the demonstrations and the prompt are
lora_repro/train/fewshot.py's). Every weight of the pretrained model is frozen, so |Θ| = 0. The
trainer builds an optimizer and, with several processes, a DDP wrapper, and both refuse a model
without any trainable parameter: the method therefore registers one empty parameter (zero elements),
``fewshot_anchor``, which counts 0 in every parameter count and is the whole saved "adapter".

Options (checked here, as ``method.<name>`` in messages): ``shots_per_class`` (demonstrations per
class, default 2 as App. A's MNLI-m), ``demo_seed`` (the seed of their draw), ``max_length`` (tokens of
a prompt plus label; null: the model's context window).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lora_repro.methods.adapters import param_dtype
from lora_repro.methods.base import register_method
from lora_repro.models.arch import ArchSpec

ANCHOR = "fewshot_anchor"


def check_options(shots_per_class: Any, demo_seed: Any, max_length: Any) -> None:
    """One-line errors for bad few-shot options."""
    if isinstance(shots_per_class, bool) or not isinstance(shots_per_class, int) or shots_per_class < 1:
        raise ValueError(f"method.shots_per_class must be a positive integer (>= 1), got {shots_per_class!r}")
    if isinstance(demo_seed, bool) or not isinstance(demo_seed, int):
        raise ValueError(f"method.demo_seed must be an integer, got {demo_seed!r}")
    bad_length = isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2
    if max_length is not None and bad_length:
        raise ValueError(f"method.max_length must be null or an integer >= 2, got {max_length!r}")


def inject_fewshot(
    model: nn.Module,
    spec: ArchSpec,
    shots_per_class: int = 2,
    demo_seed: int = 0,
    max_length: int | None = None,
) -> list[nn.Parameter]:
    """Freeze everything; the only "trainable" parameter is the empty anchor."""
    check_options(shots_per_class, demo_seed, max_length)
    like = next(model.parameters())
    anchor = nn.Parameter(torch.zeros(0, device=like.device, dtype=param_dtype(like)))
    model.register_parameter(ANCHOR, anchor)
    return [anchor]


register_method("fewshot", ("shots_per_class", "demo_seed", "max_length"))(inject_fewshot)
