"""SLURM through Hydra's submitit launcher: one array task per cell, each running ``accelerate launch``.

The grid writes the cells still to run into a JSON file and starts a Hydra multirun of
:mod:`lora_repro.grid.slurm_task` over ``cell=0..n-1`` with ``configs/launcher/slurm.yaml`` (which
selects ``hydra/launcher: submitit_slurm``). Hydra submits a job array and waits for it. Cells that
depend on others (MRPC/RTE/STS-B on MNLI) go into a second wave submitted after the first finishes.
Hydra stays in this outer process; every rank of ``accelerate launch`` composes the same cell config.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lora_repro.config import config_dir
from lora_repro.grid.cells import Cell
from lora_repro.grid.run import Failure, RunReport


def waves(cells: list[Cell]) -> list[list[Cell]]:
    """The cells to run, split into waves: each wave only depends on done cells or earlier waves."""
    todo = [c for c in cells if not c.done]
    settled = {c.id for c in cells if c.done}
    out: list[list[Cell]] = []
    while todo:
        wave = [c for c in todo if all(d in settled for d in c.deps)]
        if not wave:
            raise ValueError(f"dependency cycle or unknown dependency among cells {[c.id for c in todo]}")
        out.append(wave)
        settled |= {c.id for c in wave}
        todo = [c for c in todo if c.id not in settled]
    return out


def write_cells_file(cells: list[Cell], path: Path) -> Path:
    """The JSON list an array task reads its cell from: id, overrides, run dir, log path, working dir.

    Paths are made absolute (a SLURM job may start elsewhere); ``runs_root`` does not enter the hash.
    """
    path.parent.mkdir(parents=True, exist_ok=True)

    def absolute(o: str) -> str:
        key, _, value = o.partition("=")
        return f"runs_root={Path(value).resolve()}" if key == "runs_root" else o

    rows = [
        {
            "id": c.id,
            "cwd": str(Path.cwd()),
            "overrides": [absolute(o) for o in c.overrides],
            "run_dir": str(c.run_dir.resolve()),
            "log": str(c.log_path.resolve()),
        }
        for c in cells
    ]
    path.write_text(json.dumps(rows, indent=1))
    return path


def submit_command(cells_file: Path, n: int, extra: list[str] | None = None) -> list[str]:
    """The Hydra multirun that submits one SLURM array task per cell of ``cells_file``."""
    return [
        sys.executable, "-m", "lora_repro.grid.slurm_task", "--multirun",
        "--config-dir", str(config_dir() / "launcher"), "--config-name", "slurm",
        f"cells_file={cells_file.resolve()}", f"cell=range(0,{n})",
        f"hydra.sweep.dir={cells_file.resolve().parent / cells_file.stem}",
        *(extra or []),
    ]  # fmt: skip


def run_slurm(cells: list[Cell], work_dir: Path, extra: list[str] | None = None) -> RunReport:
    """Submit the missing cells wave by wave and wait; cells that end without DONE are failures."""
    report = RunReport(already_done=[c for c in cells if c.done])
    for i, wave in enumerate(waves(cells)):
        cells_file = write_cells_file(wave, work_dir / f"wave{i}.json")
        argv = submit_command(cells_file, len(wave), extra)
        print(f"submitting wave {i}: {len(wave)} cells: {' '.join(argv)}", file=sys.stderr)
        subprocess.run(argv, check=False)
        for cell in wave:
            if cell.done:
                report.finished.append(cell)
            else:
                report.failed.append(Failure(cell, None, "no DONE marker after the SLURM job"))
    return report
