"""BitFit (Ben Zaken et al., 2021): train every bias vector of the pretrained model, nothing else.

"Every bias" means every parameter named ``*.bias`` outside a new task head: the q/k/v/o, MLP and
LayerNorm biases of every block and the embedding LayerNorm's bias where the model has one (the
BitFit paper tunes all of them). LayerNorm gains are weights and stay frozen.
"""

from __future__ import annotations

from torch import nn

from lora_repro.methods.base import head_prefixes, is_head_param, register_method
from lora_repro.models.arch import ArchSpec


def inject_bitfit(model: nn.Module, spec: ArchSpec) -> list[nn.Parameter]:
    """All bias parameters of the pretrained model (a new task head trains anyway)."""
    heads = head_prefixes(model, spec)
    params = [p for n, p in model.named_parameters() if n.endswith(".bias") and not is_head_param(n, heads)]
    if not params:
        raise ValueError(f"bitfit: {spec.family} model has no bias parameters to train")
    return params


register_method("bitfit", ())(inject_bitfit)
