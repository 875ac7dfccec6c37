"""Build a model from ``configs/model/<name>.yaml``.

``device="meta"`` builds the architecture without weights (for |Θ| counts of 175B-parameter
models in seconds, offline). Loading pretrained weights (hub id or a local ``save_pretrained``
directory) is :func:`load_pretrained`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lora_repro.config import load_group_file

ENCODER, DECODER = "encoder", "decoder"


def model_config(name: str) -> dict[str, Any]:
    """The model's YAML as a dict; error naming the known models if ``name`` is unknown."""
    return load_group_file("model", name)


def _auto_class(kind: str, head: str | None):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    if kind == ENCODER or head == "classification":
        return AutoModelForSequenceClassification
    if kind == DECODER:
        return AutoModelForCausalLM
    raise ValueError(f"unknown model kind {kind!r}; allowed: {ENCODER}, {DECODER}")


def hf_config(cfg: dict[str, Any], num_labels: int | None = None, overrides: dict[str, Any] | None = None):
    from transformers import AutoConfig

    fields = dict(cfg["hf_config"])
    fields.update(overrides or {})
    model_type = fields.pop("model_type")
    if num_labels is not None:
        fields["num_labels"] = num_labels
    return AutoConfig.for_model(model_type, **fields)


def build_model(
    name: str | dict[str, Any],
    device: str | torch.device = "meta",
    num_labels: int | None = None,
    head: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> nn.Module:
    """The architecture of model ``name`` with fresh (or, on meta, no) weights."""
    cfg = model_config(name) if isinstance(name, str) else name
    config = hf_config(cfg, num_labels=num_labels, overrides=overrides)
    cls = _auto_class(cfg.get("kind", ENCODER), head)
    with torch.device(device):
        model = cls.from_config(config)
    return model
