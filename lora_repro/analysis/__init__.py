"""Section 7 of the paper: what the low-rank updates are (read from trained or saved adapters).

Analyses read adapters, never train: ``lora_updates(model)`` lists every LoRA update of a model
(after ``apply_method``/``load_adapter``) per block and target, as the fp32 factors A [r, in] and
B [out, r] with the scaling alpha/r, which is what the subspace-similarity (Figure 3-4), the
amplification-factor (Table 7) and the rank analyses work on. Figures built on them live here too.
"""

from lora_repro.analysis.updates import LowRankUpdate, lora_updates

__all__ = ["LowRankUpdate", "lora_updates"]
