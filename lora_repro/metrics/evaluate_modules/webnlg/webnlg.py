"""WebNLG BLEU, METEOR, TER (all, seen, unseen) as GenerationEval computes them in LoRA's pipeline."""

import evaluate

from lora_repro.metrics.evaluate_modules.support import compute, info, text_features


class WebNLG(evaluate.Metric):
    def _info(self):
        return info("webnlg", __doc__, text_features())

    def _compute(self, predictions, references, seen=None, categories=None, num_refs=6):
        return compute("webnlg", predictions, references, seen=seen, categories=categories, num_refs=num_refs)
