"""lora-repro: reproduce "LoRA: Low-Rank Adaptation of Large Language Models" (Hu et al., 2021).

Public API::

    from lora_repro import apply_method, count_parameters, merge, unmerge, save_adapter, load_adapter

The API names are imported on first use, so ``import lora_repro`` (and commands such as
``lora-repro score`` or ``lora-repro env --check-lock``) does not import torch.
"""

import os as _os
import sys as _sys
from pathlib import Path as _Path


def _no_cuda_device() -> bool:
    """True where no NVIDIA GPU can be seen, decided without importing torch (Linux: the driver's
    device files; elsewhere unknown, so False)."""
    if not _sys.platform.startswith("linux"):
        return False
    if _os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return True
    gpus = _Path("/proc/driver/nvidia/gpus")
    return not (gpus.is_dir() and any(gpus.iterdir())) and not _Path("/dev/nvidia0").exists()


# DeepSpeed (optional; accelerate imports it whenever it is installed, even to save a model) announces
# on stdout that it found no GPU. Telling it up front keeps stdout clean for the commands that print a
# path there (lora-repro train, lora-repro pretrain).
if "DS_ACCELERATOR" not in _os.environ and _no_cuda_device():
    _os.environ["DS_ACCELERATOR"] = "cpu"

__version__ = "0.1.0"

__all__ = ["METHODS", "apply_method", "count_parameters", "merge", "unmerge", "save_adapter", "load_adapter"]


def __getattr__(name: str):
    if name in __all__:
        from lora_repro import methods

        return getattr(methods, name)
    raise AttributeError(f"module 'lora_repro' has no attribute {name!r}")
