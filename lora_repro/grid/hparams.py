"""``lora-repro table 9`` (and 10, 11, 12, 17): the hyperparameters every cell really runs with.

For each block of a hyperparameter table (``configs/table/tableN.yaml``, ``kind: hparams``) the
cells of the experiment tables it describes are composed exactly as the grid composes them
(:func:`lora_repro.grid.cells.cell_overrides`, then the trainer's ``cell_config``), nothing runs,
and :func:`lora_repro.tables.hparams.judge` sets each value beside the paper's. The profile is
``paper`` unless ``profile=tiny`` is given. Writes ``results/<profile>/tableN.{md,csv}``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from lora_repro.grid.cells import cell_overrides, hydra_value, method_overrides
from lora_repro.tables.hparams import AuditCell, HparamsSpec, judge, load_hparams_spec
from lora_repro.tables.hparams_render import HparamsProvenance, write_hparams_table
from lora_repro.tables.spec import TableSpec, load_spec, row_matches

Resolver = Any  # overrides -> resolved config (a plain dict)


def resolve_config(overrides: list[str]) -> dict[str, Any]:
    """The trainer's resolved config of a cell, as a plain dict."""
    from omegaconf import OmegaConf

    from lora_repro.train.cell import cell_config

    return OmegaConf.to_container(cell_config(list(overrides)), resolve=True)  # type: ignore[return-value]


@functools.cache
def _experiment_spec(table: str) -> TableSpec:
    return load_spec(table)


def row_where(spec: TableSpec, index: int) -> str:
    """``Table 2 'RoB-large (Adpt^H)'† (r=8)``: an experiment-table row, for the audit's ``Cells:`` line."""
    row = spec.rows[index]
    opts = ", ".join(f"{k}={hydra_value(v)}" for k, v in row.method.items() if k != "name")
    return f"Table {spec.table} '{row.label}'" + ("†" if row.dagger else "") + (f" ({opts})" if opts else "")


def block_overrides(spec: HparamsSpec, profile: str) -> list[tuple[int, str, str, list[str]]]:
    """(block index, task, where, overrides) of every cell the spec's blocks describe."""
    tasks = [t for t, _ in spec.tasks]
    out: list[tuple[int, str, str, list[str]]] = []
    for bi, block in enumerate(spec.blocks):
        for selector in block.rows:
            exp = _experiment_spec(str(selector["table"]))
            wanted = {k: v for k, v in selector.items() if k != "table"}
            found = [i for i, row in enumerate(exp.rows) if row_matches(row, wanted)]
            if not found:
                raise ValueError(
                    f"table {spec.table} block {block.label!r}: no row of table {exp.table} matches {wanted!r}"
                )
            exp_tasks = [c.task for c in exp.columns if c.task in tasks]
            for i in found:
                for task in dict.fromkeys(exp_tasks):
                    ov = cell_overrides(exp, exp.rows[i], task, exp.seeds[0], profile, Path("runs"))
                    out.append((bi, task, row_where(exp, i), ov))
        for cell in block.cells:
            method = cell["method"] if isinstance(cell["method"], dict) else {"name": cell["method"]}
            for task in cell.get("tasks") or tasks:
                ov = [
                    f"profile={profile}",
                    f"model={cell['model']}",
                    f"task={task}",
                    *method_overrides(method),
                ]
                ov += [str(o) for o in cell.get("overrides") or ()]
                out.append((bi, task, f"{cell['model']} {method['name']} (no experiment-table spec)", ov))
    return out


def audit(spec: HparamsSpec, profile: str, resolver: Resolver = None) -> tuple[list, list[AuditCell]]:
    """(checks, cells) of the hyperparameter table ``spec`` in ``profile``."""
    resolver = resolver or resolve_config
    cells = [
        AuditCell(block=bi, task=task, where=where, config=resolver(ov))
        for bi, task, where, ov in block_overrides(spec, profile)
    ]
    return judge(spec, cells), cells


def main(table: str, own: dict[str, Any], command_line: str, resolver: Resolver = None) -> int:
    """Audit table ``table`` and write ``results/<profile>/table<N>.{md,csv}``."""
    from lora_repro.config import git_commit

    spec = load_hparams_spec(table)
    checks, cells = audit(spec, own["profile"], resolver)
    out = Path(own["out"] or Path("results") / own["profile"])
    prov = HparamsProvenance(command_line, own["profile"], git_commit())
    paths = write_hparams_table(spec, checks, cells, prov, out)
    undocumented = [c for c in checks if c.source == "undocumented"]
    for c in undocumented:
        print(
            f"table {spec.table}: {c.block.label} {c.item.label} on {c.task}: ours {c.ours}, paper {c.paper}, "
            "and no note says why",
            flush=True,
        )
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0
