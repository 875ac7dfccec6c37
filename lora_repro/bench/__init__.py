"""Efficiency, measured: ``lora-repro bench <name>`` (Table 1, Figure 5, training cost, GPT-3 memory, switching).

Every figure is a ratio of variants measured side by side in one run, with the absolute numbers
beside it and the device named; results go to ``results/<device>/`` (docs/efficiency.md).
"""
