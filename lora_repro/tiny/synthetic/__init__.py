"""Offline generators of the tiny profile: every dataset in its hub schema, drawn from one small world."""

from __future__ import annotations

from lora_repro.tiny.synthetic.corpus import pretraining_corpus

__all__ = ["pretraining_corpus"]
