"""``lora-repro import-adapter <file> model=<name> [task=<name>] [r=<int>] [alpha=<number>] [out=<dir>] [profile=paper|tiny] [model.path=<dir>] [model.revision=<rev>]``.

Reads a checkpoint of the reference implementation (microsoft/LoRA: the released GPT-2 ``.pt`` and
RoBERTa/DeBERTa ``.bin`` adapters, or one of its training runs), loads the base model (the hub's in
the paper profile, or ``model.path=<dir>``), injects LoRA as the file describes (r from the shapes;
alpha from the reference scripts' values, else ``alpha=``), checks every tensor's shape against the
model and writes our adapter directory (adapter_config.json + adapter_model.safetensors, with the
base model's fingerprint) to ``out=`` (default ``adapters/<file name>``), ready for ``load_adapter``
and ``lora-repro eval``. Prints the adapter directory.

The file is read with ``torch.load(weights_only=True)``: one that needs arbitrary code is refused.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

from lora_repro.config import load_group_file, split_args
from lora_repro.validate import POSITIVE, POSITIVE_INT, Rule, check_own, optional

OWN: dict[str, Any] = {"model": None, "task": None, "r": None, "alpha": None, "out": None, "profile": "paper"}
RULES = {
    "r": optional(POSITIVE_INT),
    "alpha": optional(POSITIVE),
    "profile": Rule("choice", choices=("paper", "tiny")),
}
MODEL_KEYS = ("model.path", "model.revision")  # the base model's source, as in a cell


def parse(argv: list[str]) -> tuple[Path, dict[str, Any], dict[str, str]]:
    """The checkpoint file, the own options (validated) and the model overrides; nothing is read yet."""
    files = [a for a in argv if "=" not in a]
    flags = [a for a in files if a.startswith("-")]
    if flags:
        raise ValueError(f"unknown option(s) {flags}; allowed: <file> and key=value arguments")
    if len(files) != 1:
        got = f"got {files}" if files else "got none"
        raise ValueError(
            f"give one reference checkpoint file ({got}): lora-repro import-adapter <file> model=<name>"
        )
    own, rest = split_args([a for a in argv if "=" in a], OWN)
    model_over = {}
    for arg in rest:
        key, _, value = arg.partition("=")
        if key not in MODEL_KEYS:
            raise ValueError(f"unknown argument(s) [{arg!r}]; allowed: {[*OWN, *MODEL_KEYS]}")
        model_over[key.split(".", 1)[1]] = value
    check_own("import-adapter", own, RULES)
    if not own["model"]:
        raise ValueError(
            "give model=<name> (the base model the adapter was trained on, e.g. model=gpt2-medium)"
        )
    for group in ("model", "task"):
        if own[group] is not None:
            load_group_file(group, str(own[group]))  # an unknown name: one line listing the allowed ones
    return Path(files[0]), own, model_over


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main(argv: list[str]) -> int:
    """Import one reference checkpoint; print the adapter directory."""
    from lora_repro.methods.io import save_adapter
    from lora_repro.methods.reference import (
        ReferenceFormatError,
        import_reference,
        num_labels_of,
        read_reference,
    )
    from lora_repro.models.load import load_model

    path, own, model_over = parse(argv)
    out = Path(str(own["out"])) if own["out"] else Path("adapters") / path.stem
    if out.exists() and not out.is_dir():
        raise ValueError(f"out={out} is a file, not a directory: give out= a directory")
    state = read_reference(path)  # every file check before the base model is loaded
    model_cfg = {**load_group_file("model", str(own["model"])), **model_over}
    num_labels = None
    if model_cfg.get("kind") == "encoder":
        num_labels = num_labels_of(state, str(model_cfg.get("family")))
        if num_labels is None:
            raise ReferenceFormatError(
                f"{path}: no classifier head (classifier.out_proj.weight or classifier.weight): an encoder "
                "adapter needs the task head it was trained with"
            )
    loaded = load_model(model_cfg, str(own["profile"]), num_labels=num_labels, regression=num_labels == 1)
    info = import_reference(loaded.model, state, r=own["r"], alpha=own["alpha"])
    provenance = {
        "format": "microsoft/LoRA reference checkpoint (loralib)",
        "file": path.name,
        "sha256": sha256(path),
        "model": str(own["model"]),
        "base": loaded.source,
        "task": own["task"],
        "ignored_base_tensors": len(info.ignored),
    }
    save_adapter(loaded.model, out, provenance=provenance)
    head = f", task head {info.head_tensors} tensors" if info.head_tensors else ""
    ignored = f"; {len(info.ignored)} frozen base tensors in the file ignored" if info.ignored else ""
    print(
        f"lora-repro import-adapter: {path.name}: LoRA r={info.r} alpha={info.alpha:g} targets "
        f"{','.join(info.targets)} ({info.lora_tensors} tensors{head}){ignored} -> {out}",
        file=sys.stderr,
    )
    print(out)
    return 0
