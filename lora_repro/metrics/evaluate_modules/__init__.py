"""Local ``evaluate`` modules, one directory per metric, loadable offline by path.

``evaluate.load("glue")`` fetches a script from the Hub and fails offline; these load from disk::

    import evaluate
    from lora_repro.metrics.evaluate_modules import module_path
    e2e = evaluate.load(module_path("e2e"))
    e2e.compute(predictions=[...], references=[[...], ...])
    glue = evaluate.load(module_path("glue"), "cola")

Each module calls ``lora_repro.metrics.score`` (same keys, same scale).
"""

from __future__ import annotations

from pathlib import Path

MODULES = ("glue", "e2e", "webnlg", "dart", "samsum", "wikisql")


def module_path(name: str) -> str:
    """Directory of the local evaluate module ``name`` (pass it to ``evaluate.load``)."""
    if name not in MODULES:
        raise ValueError(f"unknown evaluate module {name!r}; allowed: {', '.join(MODULES)}")
    return str(Path(__file__).resolve().parent / name)
