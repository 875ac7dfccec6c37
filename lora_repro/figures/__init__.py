"""Section 7's figures and Table 7: run the grid cells they read, compute with ``lora_repro.analysis``,
draw with matplotlib (``lora-repro figure N``). Specs: ``configs/figure/``; docs/analysis.md."""
