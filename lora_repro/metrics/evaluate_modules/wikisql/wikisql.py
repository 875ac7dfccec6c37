"""WikiSQL logical-form (Query.__eq__) and execution accuracy x100 of generated SQL (lora-repro).

compute(predictions=[sql, ...], references=[gold sql, ...], tables=[{header, types, rows}, ...])
"""

import evaluate

from lora_repro.metrics.evaluate_modules.support import compute, info, text_features


class WikiSQL(evaluate.Metric):
    def _info(self):
        return info("wikisql", __doc__, text_features(grouped=False))

    def _compute(self, predictions, references, tables=None):
        return compute("wikisql", predictions, references, tables=tables)
