"""``lora-repro params model=<name> method=<name> [method.<option>=...]``: |Θ| as JSON, offline.

The architecture is built on PyTorch's meta device from ``configs/model/<name>.yaml``: no weights,
no network, seconds even for GPT-3 175B.
"""

from __future__ import annotations

import json
from typing import Any

from omegaconf import OmegaConf

from lora_repro.config import load_group_file, split_args
from lora_repro.validate import check_method_options, compose_checked


def count_for(model_name: str | dict[str, Any], method: dict[str, Any]) -> dict[str, int]:
    """|Θ| counts of ``method`` (a dict with ``name`` and its options) on a model: its name, or its
    config (a stand-in's, for the grid's estimate)."""
    from lora_repro.methods import apply_method, count_parameters
    from lora_repro.models.build import build_model

    model = build_model(model_name, device="meta")
    options = {k: v for k, v in method.items() if k != "name"}
    apply_method(model, method["name"], **options)
    return count_parameters(model)


def main(argv: list[str]) -> int:
    own, overrides = split_args(argv, {"table": None})
    if own["table"] is not None:
        from lora_repro.commands.params_table import print_table  # noqa: PLC0415

        return print_table(own["table"])
    cfg = compose_checked(overrides, "params", groups=("model", "method"))
    method = OmegaConf.to_container(cfg.method, resolve=True)
    name = str(method["name"])
    allowed = [k for k in load_group_file("method", name) if k != "name"]
    check_method_options(name, {k: v for k, v in method.items() if k != "name"}, allowed, where="method.")
    counts = count_for(cfg.model.name, method)
    out = {"model": cfg.model.name, "method": method["name"], **counts}
    print(json.dumps(out))
    return 0
