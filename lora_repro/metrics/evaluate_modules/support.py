"""Shared by the local evaluate module scripts (kept free of EvaluationModule subclasses: evaluate
takes the first one it finds in a script as the metric)."""

from __future__ import annotations

from typing import Any

import datasets
import evaluate

from lora_repro.metrics import score

CITATION = """@inproceedings{hu2022lora, title={LoRA: Low-Rank Adaptation of Large Language Models},
author={Hu, Edward J. and others}, booktitle={ICLR}, year={2022}}"""

TEXT = datasets.Value("string")
GROUPS = datasets.Sequence(datasets.Value("string"))


def text_features(grouped: bool = True) -> list[datasets.Features]:
    """Predictions are strings; references one group of strings per input (or one string)."""
    feats = [datasets.Features({"predictions": TEXT, "references": GROUPS})]
    if grouped:
        feats.append(datasets.Features({"predictions": TEXT, "references": TEXT}))
        return feats
    return [datasets.Features({"predictions": TEXT, "references": TEXT})]


def info(metric: str, description: str, features: list[datasets.Features], config: str = "default"):
    """The MetricInfo of a lora-repro metric."""
    return evaluate.MetricInfo(
        description=description,
        citation=CITATION,
        inputs_description="see docs/metrics.md of lora-repro",
        features=features,
        config_name=config,
        reference_urls=["https://github.com/microsoft/LoRA"],
    )


def compute(metric: str, predictions: Any, references: Any, **meta: Any) -> dict[str, Any]:
    """``score`` as a plain dict; unavailable metrics listed under "unavailable"."""
    refs = [
        [r] if isinstance(r, str) and not metric.startswith(("glue_", "wikisql")) else r for r in references
    ]
    result = score(metric, list(predictions), refs, **meta)
    out: dict[str, Any] = dict(result)
    if result.unavailable:
        out["unavailable"] = dict(result.unavailable)
    return out
