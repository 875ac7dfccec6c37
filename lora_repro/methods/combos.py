"""LoRA + prefix tuning (paper Appendix E): ``lora_pe`` (LoRA + PreEmbed), ``lora_pl`` (LoRA + PreLayer).

Both take the union of the two option sets; |Θ| is the sum of the two methods' counts.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from lora_repro.methods.base import METHOD_OPTIONS, register_method
from lora_repro.methods.lora import inject_lora
from lora_repro.methods.prefix import install_prefix
from lora_repro.models.arch import ArchSpec

LORA_OPTIONS = METHOD_OPTIONS["lora"]
PREFIX_OPTIONS = ("l_p", "l_i")


def _split(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    lora = {k: v for k, v in options.items() if k in LORA_OPTIONS}
    prefix = {k: v for k, v in options.items() if k in PREFIX_OPTIONS}
    return lora, prefix


def inject_lora_pe(model: nn.Module, spec: ArchSpec, **options: Any) -> list[nn.Parameter]:
    """LoRA on the chosen projections plus trainable prefix/infix input embeddings."""
    lora, prefix = _split(options)
    params = inject_lora(model, spec, **lora)
    return params + install_prefix(model, spec, prefix.get("l_p", 8), prefix.get("l_i", 8), per_layer=False)


def inject_lora_pl(model: nn.Module, spec: ArchSpec, **options: Any) -> list[nn.Parameter]:
    """LoRA on the chosen projections plus trainable prefix/infix activations at every block."""
    lora, prefix = _split(options)
    params = inject_lora(model, spec, **lora)
    return params + install_prefix(model, spec, prefix.get("l_p", 8), prefix.get("l_i", 8), per_layer=True)


register_method("lora_pe", LORA_OPTIONS + PREFIX_OPTIONS)(inject_lora_pe)
register_method("lora_pl", LORA_OPTIONS + PREFIX_OPTIONS)(inject_lora_pl)
