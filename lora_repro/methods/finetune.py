"""Full fine-tuning (``ft``) and fine-tuning of the top k Transformer blocks only (``ft_top``).

``ft`` trains every parameter of the pretrained model (|Θ| = the model's parameter count, shared
weights such as GPT-2's tied input/output embedding counted once). ``ft_top`` trains the parameters
of the last ``k`` blocks and nothing else (not the final LayerNorm, not the embeddings): the paper's
FT^Top2 on GPT-2 medium is 2 × 12,596,224 = 25.19M, exactly two blocks.
"""

from __future__ import annotations

from torch import nn

from lora_repro.methods.base import register_method
from lora_repro.models.arch import ArchSpec


def inject_ft(model: nn.Module, spec: ArchSpec) -> list[nn.Parameter]:
    """Every parameter trains. The base model's fingerprint is recorded first, because training
    changes the embedding that :func:`lora_repro.methods.io.base_fingerprint` hashes."""
    from lora_repro.methods.io import BASE_FINGERPRINT_ATTR, base_fingerprint  # noqa: PLC0415  (io imports base)

    setattr(model, BASE_FINGERPRINT_ATTR, base_fingerprint(model))
    return list(model.parameters())


def inject_ft_top(model: nn.Module, spec: ArchSpec, k: int = 2) -> list[nn.Parameter]:
    """The parameters of the last ``k`` Transformer blocks."""
    blocks = spec.get_blocks(model)
    n = len(blocks)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n:
        raise ValueError(f"ft_top: k must be an integer in 1..{n} (the model's number of blocks), got {k!r}")
    return [p for block in list(blocks)[n - k :] for p in block.parameters()]


register_method("ft", ())(inject_ft)
register_method("ft_top", ("k",))(inject_ft_top)
