"""Section 7 of the paper: what the low-rank updates are (read from trained or saved adapters).

Analyses read adapters, never train: ``lora_updates(model)`` lists every LoRA update of a model
(after ``apply_method``/``load_adapter``) per block and target, as the fp32 factors A [r, in] and
B [out, r] with the scaling alpha/r. ``subspace`` computes the normalised subspace similarity φ
(Figures 3, 4, 6, 7, 8) and its random baseline, ``amplification`` Table 7 (the projections of W_q
onto ΔW_q's top directions and the amplification factor), ``adapters`` reads saved adapters for an
analysis and refuses ones of another base model, rank or targets. Drawing the figures and running
the cells they need is ``lora_repro.figures`` (``lora-repro figure N``). See docs/analysis.md.
"""

from lora_repro.analysis.adapters import (
    LAYER_POSITIONS,
    check_same_base,
    check_updates,
    layer_index,
    model_depth,
    read_updates,
    update_at,
)
from lora_repro.analysis.amplification import (
    Table7Column,
    base_weight,
    projection_norm,
    table7_column,
    top_directions,
)
from lora_repro.analysis.subspace import (
    expected_random_phi,
    left_singular,
    phi,
    phi_grid,
    random_baseline,
    random_gaussian,
    right_singular,
    subspace_similarity,
)
from lora_repro.analysis.updates import LowRankUpdate, lora_updates

__all__ = [
    "LAYER_POSITIONS",
    "LowRankUpdate",
    "Table7Column",
    "base_weight",
    "check_same_base",
    "check_updates",
    "expected_random_phi",
    "layer_index",
    "left_singular",
    "lora_updates",
    "model_depth",
    "phi",
    "phi_grid",
    "projection_norm",
    "random_baseline",
    "random_gaussian",
    "read_updates",
    "right_singular",
    "subspace_similarity",
    "table7_column",
    "top_directions",
    "update_at",
]
