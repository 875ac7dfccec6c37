"""E2E NLG metrics as tuetschek/e2e-metrics computes them (lora-repro): BLEU, NIST, METEOR, ROUGE_L, CIDEr."""

import evaluate

from lora_repro.metrics.evaluate_modules.support import compute, info, text_features


class E2E(evaluate.Metric):
    def _info(self):
        return info("e2e", __doc__, text_features())

    def _compute(self, predictions, references):
        return compute("e2e", predictions, references)
