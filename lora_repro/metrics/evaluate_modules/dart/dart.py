"""DART BLEU, METEOR, TER as GenerationEval computes them in microsoft/LoRA's pipeline (lora-repro)."""

import evaluate

from lora_repro.metrics.evaluate_modules.support import compute, info, text_features


class Dart(evaluate.Metric):
    def _info(self):
        return info("dart", __doc__, text_features())

    def _compute(self, predictions, references, num_refs=6):
        return compute("dart", predictions, references, num_refs=num_refs)
