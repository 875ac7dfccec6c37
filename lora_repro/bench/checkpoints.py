"""``lora-repro bench checkpoints [tables=2,3,8,18 profile=tiny out=DIR]``: measured checkpoint sizes.

For every cell of each table (its rows x tasks, one seed: the size does not depend on the seed), the
cell's own resolved config builds the model the cell trains (the tiny width and the tiny tokenizer's
vocabulary; random weights: a size depends on shapes and dtypes only, so no pretraining is needed),
applies the cell's method with its options, and writes

* the adapter, with the library's ``save_adapter`` (what a finished cell leaves in ``adapter/``:
  everything that trains, task head included, as safetensors), and
* the full checkpoint of the same model before the method (``save_pretrained``, safetensors, tied
  weights stored once, task head included): what a fine-tuned copy per task costs, FT's checkpoint
  and merged LoRA's,

and reports the bytes on disk of each and their ratio, per table row (cells of a row on different
tasks differ only by the task head; the table shows the range). ``tables=`` the committed ones by
default (those with a ``tableN.csv`` under ``results/<profile>/``). Writes checkpoints.{md,csv} to
results/<device>/ (``out=DIR`` elsewhere). The paper's own sizes (GPT-3 175B: 350 GB vs 35 MB) are
``bench gpt3-memory``'s.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from lora_repro.bench.report import (
    Provenance,
    check_unknown,
    command_line,
    markdown_table,
    progress,
    results_dir,
    write_csv,
    write_markdown,
)
from lora_repro.config import REPO_ROOT, split_args

OWN = {"tables": None, "profile": "tiny", "out": None, "runs": "runs"}


def committed_tables(profile: str, root: Path = REPO_ROOT) -> list[str]:
    """The run tables with committed results under results/<profile>/ (tableN.csv of a table with a spec)."""
    from lora_repro.tables.plot import is_result_table

    found = [p for p in (root / "results" / profile).glob("table*.csv") if is_result_table(p)]
    return [p.stem[5:] for p in sorted(found, key=lambda p: int(p.stem[5:]))]


def cell_models(config: dict[str, Any]) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The model a cell starts from (random weights, with the cell's task head) and a copy with the
    cell's method applied."""
    import copy

    from omegaconf import OmegaConf

    from lora_repro.methods import apply_method
    from lora_repro.models.build import build_model
    from lora_repro.tiny.pretrain import tiny_hf_overrides
    from lora_repro.tiny.tokenizer import tiny_tokenizer
    from lora_repro.train.setup import make_task, method_options

    cfg = OmegaConf.create(config)
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    overrides = None
    if cfg.profile.name == "tiny":
        overrides = tiny_hf_overrides(model_cfg, tiny_tokenizer(cfg.profile.cache_dir))
    num_labels = None
    if model_cfg.get("kind") == "encoder":
        task = make_task(cfg)
        num_labels = 1 if task.kind == "regression" else task.num_labels
    torch.manual_seed(0)
    base = build_model(model_cfg, device="cpu", num_labels=num_labels, overrides=overrides)
    adapted = apply_method(copy.deepcopy(base), str(cfg.method.name), **method_options(cfg))
    return base, adapted


def sizes(base: torch.nn.Module, adapted: torch.nn.Module, work: Path) -> dict[str, Any]:
    """Bytes on disk of the full model (``save_pretrained``, safetensors; tied weights stored once) and
    of the adapted model's adapter (``save_adapter``; None when the method trains nothing)."""
    from transformers.utils import logging as hf_logging

    from lora_repro.methods import count_parameters
    from lora_repro.methods.io import save_adapter

    hf_logging.disable_progress_bar()  # one bar per cell otherwise ("Writing model shards")
    base.save_pretrained(work / "full", safe_serialization=True)
    full = sum(p.stat().st_size for p in (work / "full").glob("*.safetensors"))
    trainable = sum(p.numel() for p in adapted.parameters() if p.requires_grad)
    adapter_bytes = None
    if trainable:
        adapter_dir = save_adapter(adapted, work / "adapter")
        adapter_bytes = sum(p.stat().st_size for p in adapter_dir.iterdir() if p.is_file())
    return {
        "trainable": trainable,
        "theta": int(count_parameters(adapted)["adapter"]),
        "adapter_bytes": adapter_bytes,
        "full_bytes": full,
        "full_over_adapter": full / adapter_bytes if adapter_bytes else None,
    }


def measure(tables: list[str], profile: str, runs: str) -> list[dict[str, Any]]:
    from lora_repro.grid.cells import trainer_resolver
    from lora_repro.grid.cli import build_grid
    from lora_repro.tables.spec import load_spec

    rows: list[dict[str, Any]] = []
    memo: dict[str, dict[str, int]] = {}
    for table in tables:
        seed = load_spec(table).seeds[0]  # one seed per cell: the full config of each (no cache)
        own = {"profile": profile, "seeds": str(seed), "runs": runs}
        grid = build_grid(table, own, [], resolver=trainer_resolver)
        todo = [(i, task, cid) for (i, task, _), cid in grid.slots.items()]
        by_id = {c.id: c for c in grid.cells}
        progress(f"checkpoints: table {table}: {len(todo)} cells ({len(grid.spec.rows)} rows)")
        for i, task, cid in todo:
            cell = by_id[cid]
            key = repr(
                (cell.config.get("model"), cell.config.get("method"), cell.config.get("task", {}).get("name"))
            )
            if key not in memo:
                with tempfile.TemporaryDirectory(prefix="lora-repro-ckpt-") as tmp:
                    memo[key] = sizes(*cell_models(cell.config), Path(tmp))
            rows.append({"table": table, "row": grid.spec.rows[i].label, "model": cell.model, "task": task,
                         "method": cell.method, "cell": cid, **memo[key]})  # fmt: skip
    return rows


def _mib(n: float) -> str:
    return f"{n / 2**20:.3f} MiB" if n < 2**30 else f"{n / 2**30:.2f} GiB"


def render(rows: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for table in dict.fromkeys(r["table"] for r in rows):
        part = [r for r in rows if r["table"] == table]
        grid = [
            ["row", "model", "cells", "trainable", "adapter on disk", "full checkpoint", "full / adapter"]
        ]
        for label in dict.fromkeys(r["row"] for r in part):
            rs = [r for r in part if r["row"] == label]

            def span(key: str, fmt, rs=rs) -> str:  # noqa: ANN001
                vals = [r[key] for r in rs if r[key] is not None]
                if not vals:
                    return "— (trains nothing)"
                lo, hi = min(vals), max(vals)
                return fmt(lo) if lo == hi else f"{fmt(lo)} - {fmt(hi)}"

            grid.append([label, rs[0]["model"], str(len(rs)), span("trainable", lambda n: f"{n:,}"),
                         span("adapter_bytes", _mib), span("full_bytes", _mib),
                         span("full_over_adapter", lambda x: f"{x:,.1f}x")])  # fmt: skip
        lines += ["", f"## Table {table}", "", *markdown_table(grid)]
    return lines


def main(argv: list[str]) -> int:
    own, rest = split_args(argv, OWN)
    check_unknown(rest, OWN, "checkpoints")
    profile = str(own["profile"])
    if profile != "tiny":
        raise ValueError(
            f"profile={profile!r}: bench checkpoints builds every cell's model on this machine; allowed: "
            "tiny (the paper-size checkpoints are bench gpt3-memory's arithmetic and lora-repro params' counts)"
        )
    if own["tables"] is None:
        tables = committed_tables(profile)
    else:
        tables = [t.strip() for t in str(own["tables"]).split(",") if t.strip()]
    if not tables:
        raise ValueError(
            f"tables={own['tables']!r}: no table to size (none committed under results/{profile}/)"
        )
    prov = Provenance(command_line("checkpoints", argv))
    rows = measure(tables, profile, str(own["runs"]))
    notes = [
        f"Profile `{profile}`; tables {', '.join(tables)}; one seed per cell (sizes do not depend on it). Adapter: "
        "`save_adapter`'s directory (adapter_model.safetensors + adapter_config.json) of what the cell "
        "trains, task head included (a method that trains nothing has none); full: the model before the "
        "method, `save_pretrained` safetensors (tied weights once, task head included), fp32 as the cells "
        "train. 1 MiB = 2^20 B.",
    ]
    lines = prov.header("Checkpoint sizes of the committed tables' cells: adapter against full model", notes)
    lines += render(rows)
    out = results_dir(own["out"], "cpu")
    print(write_markdown(out / "checkpoints.md", lines))
    print(write_csv(out / "checkpoints.csv", rows, comment=prov.command))
    return 0
