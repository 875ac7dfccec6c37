"""``lora-repro learnability``: can the tiny profile's models learn each task? (docs/learnability.md)

Per row of ``configs/learnability.yaml`` (a task on a model): a trivial baseline computed from the
task's own data (``baselines``), the untrained model and LoRA and FT over seeds (grid cells run by
``lora_repro.grid``), and whether the row clears its bar (``verdict``); ``report`` writes
``results/<profile>/learnability.{md,csv}``.
"""
