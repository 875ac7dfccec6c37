"""spawn=fork: cells forked by a clean helper process; logs, exit codes and kills as with exec."""

import os

import torch

from lora_repro.grid.cells import expand
from lora_repro.grid.fork import ForkSpawn
from lora_repro.grid.run import run_cells
from lora_repro.tables.spec import load_spec


def test_fork_runs_cells_in_children_with_their_own_logs(fk, tmp_path, monkeypatch):
    calls = fk.fake_env(monkeypatch, tmp_path, fail="mrpc")
    monkeypatch.setenv("FAKE_TORCH", "1")
    x = torch.ones(256, 256)
    assert float((x @ x).sum()) == 256.0**3  # this process's thread pool is live: it must not fork cells
    grid = expand(load_spec(fk.SMALL), "tiny", seeds=[1], resolver=fk.resolver, runs_root=tmp_path / "runs")
    spawn = ForkSpawn(entry=f"{fk.FAKE}:main", preload=("torch",))
    report = run_cells(grid.cells, jobs=2, command=spawn, progress=False)
    assert sorted(f.cell.task for f in report.failed) == ["mrpc", "mrpc"] and len(report.finished) == 4
    assert [f.returncode for f in report.failed] == [3, 3]
    pids = {int(e[-1]) for e in fk.read_calls(calls)}
    assert len(pids) == 6 and os.getpid() not in pids  # one process per cell
    for cell in grid.cells:
        log = cell.log_path.read_text()
        assert f"fork: lora-repro train profile=tiny model=roberta-base task={cell.task}" in log
        assert f": {256**3}" in log  # torch worked in the child
        assert ("boom: task mrpc fails on purpose" in log) == (cell.task == "mrpc") and cell.done != (
            cell.task == "mrpc"
        )
