"""The grid against the real trainer's config composition (no training): hashes, run dirs, MNLI lookup."""

from pathlib import Path

from lora_repro.grid.cells import expand, trainer_resolver
from lora_repro.tables.spec import load_spec
from lora_repro.train.cell import cell_config, cell_hash, cell_run_dir, upstream_overrides

SPEC = Path(__file__).resolve().parent / "specs" / "small.yaml"


def test_grid_cells_are_the_trainers_cells(tmp_path):
    spec = load_spec(SPEC)
    grid = expand(spec, "tiny", seeds=[1], resolver=trainer_resolver, runs_root=tmp_path / "runs")
    assert len(grid.cells) == 6
    for cell in grid.cells:
        cfg = cell_config(list(cell.overrides))
        assert cell.id == cell_hash(cfg) and cell.run_dir == cell_run_dir(cfg)
        assert cell.run_dir == tmp_path / "runs" / "tiny" / cell.id
        assert (cfg.model.name, cfg.task.name, cfg.method.name, cfg.seed) == (
            cell.model,
            cell.task,
            "lora",
            1,
        )
    mrpc = next(c for c in grid.cells if c.deps)
    cfg = cell_config(list(mrpc.overrides))
    assert cfg.init_from == "mnli" and cfg.method.r == 8 and cfg.method.alpha == 8
    upstream = cell_config(upstream_overrides(cfg))  # where the trainer looks for the MNLI checkpoint
    assert cell_run_dir(upstream) == grid.cell(mrpc.deps[0]).run_dir
