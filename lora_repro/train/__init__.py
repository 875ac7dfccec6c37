"""One grid cell end to end: config, trainer (Accelerate), generation, checkpoints, result.json.

Public entry points: :func:`lora_repro.train.cell.cell_config`, :func:`~lora_repro.train.cell.cell_hash`,
:func:`~lora_repro.train.cell.run_cell` (see docs/CONTRACTS.md and docs/training.md).
"""
