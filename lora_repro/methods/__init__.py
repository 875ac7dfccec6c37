"""Adaptation methods behind one call: ``apply_method(model, name, **options)``.

Importing this package registers every method (one module per family).
"""

from lora_repro.methods import adapters, bitfit, combos, fewshot, finetune, lora, prefix  # noqa: F401  (registers them)
from lora_repro.methods.base import METHOD_OPTIONS, METHODS, applied_methods, apply_method, count_parameters
from lora_repro.methods.io import load_adapter, save_adapter
from lora_repro.methods.lora import merge, unmerge
from lora_repro.methods.prefix import has_prefix

__all__ = [
    "METHODS",
    "METHOD_OPTIONS",
    "apply_method",
    "applied_methods",
    "count_parameters",
    "merge",
    "unmerge",
    "save_adapter",
    "load_adapter",
    "has_prefix",
]
