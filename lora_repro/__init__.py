"""lora-repro: reproduce "LoRA: Low-Rank Adaptation of Large Language Models" (Hu et al., 2021).

Public API::

    from lora_repro import apply_method, count_parameters, merge, unmerge, save_adapter, load_adapter
"""

import os as _os

import torch as _torch

# DeepSpeed (optional; accelerate imports it whenever it is installed, even to save a model) announces
# on stdout that it found no GPU. Telling it up front keeps stdout clean for the commands that print a
# path there (lora-repro train, lora-repro pretrain).
if "DS_ACCELERATOR" not in _os.environ and not _torch.cuda.is_available():
    _os.environ["DS_ACCELERATOR"] = "cpu"

from lora_repro.methods import (  # noqa: E402
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
