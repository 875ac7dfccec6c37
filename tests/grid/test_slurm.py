"""The SLURM path offline: waves, the submission command, the launcher config, and a real submitit run
with Hydra's submitit_local launcher (same code path as SLURM, jobs run on this machine)."""

import json
import sys

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig

from lora_repro.config import config_dir
from lora_repro.grid import cli
from lora_repro.grid.cells import expand
from lora_repro.grid.slurm import submit_command, waves, write_cells_file
from lora_repro.tables.spec import load_spec


def test_waves_put_mnli_before_mrpc(fk, tmp_path):
    grid = expand(load_spec(fk.SMALL), "tiny", resolver=fk.resolver, runs_root=tmp_path / "runs")
    first, second = waves(grid.cells)
    assert len(first) == 10 and {c.task for c in second} == {"mrpc"} and len(second) == 2
    assert all(d in {c.id for c in first} for c in second for d in c.deps)


def test_submission_command_and_launcher_config(fk, tmp_path):
    grid = expand(load_spec(fk.SMALL), "tiny", resolver=fk.resolver, runs_root=tmp_path / "runs")
    cells_file = write_cells_file(grid.cells[:3], tmp_path / "wave0.json")
    written = json.loads(cells_file.read_text())
    assert f"runs_root={(tmp_path / 'runs' / 'tiny').resolve()}" in written[0]["overrides"]
    assert written[0]["run_dir"] == str(grid.cells[0].run_dir.resolve()) and written[0]["cwd"]
    argv = submit_command(cells_file, 3, ["hydra.launcher.partition=gpu"])
    assert argv[:5] == [sys.executable, "-m", "lora_repro.grid.slurm_task", "--multirun", "--config-dir"]
    assert (
        f"cells_file={cells_file}" in argv
        and "cell=range(0,3)" in argv
        and argv[-1] == "hydra.launcher.partition=gpu"
    )
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir() / "launcher"), version_base="1.3"):
        overrides = [a if a != "cell=range(0,3)" else "cell=2" for a in argv[9:]]  # one array task
        cfg = compose(config_name="slurm", overrides=overrides, return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)  # as in a running job: resolves ${hydra:...}
        cell_cmd = [str(a) for a in cfg.cell_cmd]
    GlobalHydra.instance().clear()
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher") and cfg.hydra.launcher.partition == "gpu"
    assert (cfg.hydra.launcher.tasks_per_node, cfg.hydra.launcher.gpus_per_node) == (1, 1)
    assert cell_cmd == ["accelerate", "launch", "--num_processes", "1", "-m", "lora_repro.cli", "train"]


def test_slurm_launcher_runs_waves_through_submitit_local(fk, tmp_path, monkeypatch):
    calls = fk.fake_env(monkeypatch, tmp_path)
    args = fk.argv(fk.SMALL, tmp_path, "seeds=1", "launcher=slurm", "hydra/launcher=submitit_local",
                   f"cell_cmd=[{sys.executable},{fk.FAKE}]")  # fmt: skip
    assert cli.main(args, resolver=fk.resolver) == 0
    events = fk.read_calls(calls)
    assert sum(e[0] == "end" for e in events) == 6
    starts = [e[2] for e in events if e[0] == "start"]
    assert starts.index("mrpc") > max(i for i, t in enumerate(starts) if t == "mnli")
    assert "Missing cells: none." in (tmp_path / "results" / "table91.md").read_text()
