"""One SLURM array task: run cell number ``cell`` of ``cells_file`` with ``accelerate launch``.

Started by Hydra's submitit launcher (``configs/launcher/slurm.yaml``); see :mod:`lora_repro.grid.slurm`.
A cell whose run directory already has DONE is skipped, so resubmitting an array is harmless.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from omegaconf import DictConfig

from lora_repro import rundir


def cell_argv(cfg: DictConfig) -> tuple[list[str], dict]:
    """The command of this array task's cell: ``cell_cmd`` (accelerate launch ...) + the cell's overrides."""
    cells = json.loads(Path(cfg.cells_file).read_text())
    if not 0 <= int(cfg.cell) < len(cells):
        raise ValueError(f"cell {cfg.cell} out of range; {cfg.cells_file} has {len(cells)} cells")
    cell = cells[int(cfg.cell)]
    return [*map(str, cfg.cell_cmd), *cell["overrides"]], cell


def run_task(cfg: DictConfig) -> int:
    """Run one cell, its output appended to the cell's log; returns its exit code.

    A failure is not raised: Hydra's submitit launcher would stop waiting for the other array tasks
    at the first exception. The grid finds failed cells by their missing DONE marker instead.
    """
    argv, cell = cell_argv(cfg)
    if rundir.is_done(cell["run_dir"], cell.get("id")):
        return 0
    log_path = Path(cell["log"])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a") as log:
        log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} cell {cell['id']}: {' '.join(argv)}\n")
        log.flush()
        env = {**os.environ, "LORA_REPRO_CELL_DIR": cell["run_dir"]}
        rc = subprocess.run(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cell.get("cwd"), check=False
        ).returncode
    if rc != 0:
        print(f"cell {cell['id']} failed with exit code {rc}; log: {log_path}", file=sys.stderr)
    return rc


def main() -> None:
    """The Hydra app that Hydra's submitit launcher runs once per array task."""
    import hydra

    hydra.main(config_path=None, config_name=None, version_base="1.3")(run_task)()


if __name__ == "__main__":
    main()
