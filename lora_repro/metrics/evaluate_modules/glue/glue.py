"""GLUE metrics x100 (lora-repro): load with a task config, e.g. evaluate.load(path, "cola").

Configs: mnli, sst2, mrpc, cola, qnli, qqp, rte (integer class ids; mnli also verbalised label
strings), stsb (float scores).
"""

import datasets
import evaluate

from lora_repro.metrics.evaluate_modules.support import compute, info
from lora_repro.metrics.glue import GLUE_TASKS


def _features(task):
    if task == "stsb":
        kinds = ["float32"]
    elif task == "mnli":
        kinds = ["int64", "string"]
    else:
        kinds = ["int64"]
    return [
        datasets.Features({"predictions": datasets.Value(k), "references": datasets.Value(k)}) for k in kinds
    ]


class Glue(evaluate.Metric):
    def _info(self):
        if self.config_name not in GLUE_TASKS:
            raise KeyError(f"unknown GLUE config {self.config_name!r}; allowed: {', '.join(GLUE_TASKS)}")
        return info(f"glue_{self.config_name}", __doc__, _features(self.config_name), self.config_name)

    def _compute(self, predictions, references):
        return compute(f"glue_{self.config_name}", predictions, references)
