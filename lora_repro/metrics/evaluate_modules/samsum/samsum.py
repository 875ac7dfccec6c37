"""SAMSum ROUGE-1/2/L/Lsum F-measures x100 with rouge-score, use_stemmer=True (lora-repro)."""

import evaluate

from lora_repro.metrics.evaluate_modules.support import compute, info, text_features


class SAMSum(evaluate.Metric):
    def _info(self):
        return info("samsum", __doc__, text_features())

    def _compute(self, predictions, references):
        return compute("samsum", predictions, references)
