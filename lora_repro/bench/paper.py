"""The paper's efficiency numbers, as printed in Hu et al. (2021), arXiv 2106.09685 v2.

Table 1: inference latency of one forward pass of GPT-2 medium, ms, mean of 100 trials on an NVIDIA
Quadro RTX8000, "±" the paper's interval; each column has its own batch size, sequence length and
adapter |Θ|. §4.2: the GPT-3 175B memory, checkpoint and throughput claims.
"""

from __future__ import annotations

# (batch size, sequence length, |Θ| label) of Table 1's three columns
TABLE1_POINTS: tuple[tuple[int, int, str], ...] = ((32, 512, "0.5M"), (16, 256, "11M"), (1, 128, "11M"))

# row -> column index -> (mean ms, ±, % over Fine-Tune/LoRA as printed or None)
TABLE1: dict[str, tuple[tuple[float, float, float | None], ...]] = {
    "Fine-Tune/LoRA": ((1449.4, 0.8, None), (338.0, 0.6, None), (19.8, 2.7, None)),
    "Adapter^L": ((1482.0, 1.0, 2.2), (354.8, 0.5, 5.0), (23.9, 2.1, 20.7)),
    "Adapter^H": ((1492.2, 1.0, 3.0), (366.3, 0.5, 8.4), (25.8, 2.2, 30.3)),
}
TABLE1_DEVICE = "NVIDIA Quadro RTX8000"
TABLE1_TRIALS = 100

# Figure 5's sweep: batch sizes x sequence lengths (a plot only: the paper prints no numbers)
FIGURE5_BATCH_SIZES = (1, 2, 4, 8, 16, 32)
FIGURE5_SEQ_LENS = (128, 256, 512)

# |Θ| budgets of Table 1 (the adapter's trainable parameters at 24 layers). "11M" is read as the 11.09M
# that Table 3 prints for GPT-2 M Adapter^L (r=224) and Adapter^H, the same model's adapter rows.
BUDGETS: dict[str, int] = {"0.5M": 500_000, "11M": 11_090_000}

# §4.2 (GPT-3 175B)
GPT3_VRAM_FT = "1.2TB"
GPT3_VRAM_LORA = "350GB"
GPT3_CHECKPOINT_FT = "350GB"
GPT3_CHECKPOINT_LORA = "35MB"  # r = 4, W_q and W_v adapted ("roughly 10,000x" smaller)
GPT3_CHECKPOINT_RATIO = 10_000
GPT3_TOKENS_PER_S = {"ft": 32.5, "lora": 43.1}  # per V100 during training: "25% speedup"
