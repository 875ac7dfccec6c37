"""lora-repro: reproduce "LoRA: Low-Rank Adaptation of Large Language Models" (Hu et al., 2021).

Public API::

    from lora_repro import apply_method, count_parameters, merge, unmerge, save_adapter, load_adapter
"""

from lora_repro.methods import (
    METHODS,
    apply_method,
    count_parameters,
    load_adapter,
    merge,
    save_adapter,
    unmerge,
)

__version__ = "0.1.0"

__all__ = ["METHODS", "apply_method", "count_parameters", "merge", "unmerge", "save_adapter", "load_adapter"]
