"""Model loading (hub id, local directory, tiny), per-architecture module maps."""

from lora_repro.models.arch import ArchSpec, spec_for
from lora_repro.models.build import build_model, model_config

__all__ = ["ArchSpec", "spec_for", "build_model", "model_config"]
