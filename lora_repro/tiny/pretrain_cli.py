"""``lora-repro pretrain model=<name> [steps=N] [cache_dir=DIR] [force=true]``: pretrain a tiny model.

Pretrains the tiny profile's stand-in of ``model`` (masked LM for encoders, causal LM for decoders)
on the tiny world's corpus with a progress bar and caches it; prints the model directory. Running it
again reuses the cache. ``model=all`` pretrains every model that has a ``tiny:`` block.
"""

from __future__ import annotations

from lora_repro.config import group_options, load_group_file, split_args
from lora_repro.validate import BOOL, POSITIVE_INT, check_own, optional


def main(argv: list[str]) -> int:
    """Pretrain (or find in the cache) one or all tiny models; print their directories."""
    from lora_repro.tiny.pretrain import ensure_pretrained

    own, rest = split_args(argv, {"model": None, "steps": None, "cache_dir": None, "force": False})
    if rest:
        raise ValueError(
            f"unknown argument(s) {rest}; allowed: model=<name|all> steps=N cache_dir=DIR force=true"
        )
    check_own("pretrain", own, {"steps": optional(POSITIVE_INT), "force": BOOL})
    models = group_options("model")
    name = own["model"]
    if name is None:
        raise ValueError(f"give model=<name>; allowed: {models + ['all']}")
    names = [m for m in models if load_group_file("model", m).get("tiny")] if name == "all" else [str(name)]
    for m in names:
        cfg = load_group_file("model", m)  # clear error for an unknown model
        path = ensure_pretrained(
            cfg, own["cache_dir"], progress=True, force=bool(own["force"]), steps=own["steps"]
        )
        print(path)
    return 0
