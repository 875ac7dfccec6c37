"""Kill the grid process half-way (SIGKILL), rerun: only the missing cells run; a third run does nothing."""

import os
import signal
import subprocess
import sys
import time

import pytest

from lora_repro.grid import cli
from lora_repro.grid.cells import expand
from lora_repro.tables.spec import load_spec

DRIVER = """
import sys
from lora_repro.grid import cli
from lora_repro.grid.cells import overrides_hash
from lora_repro.grid.fork import ForkSpawn
spawn, fake = sys.argv[1:3]
command = ForkSpawn(entry=fake + ":main", preload=()) if spawn == "fork" else (
    lambda c: [sys.executable, fake, *c.overrides])
sys.exit(cli.main(sys.argv[3:], command=command, resolver=lambda o: (overrides_hash(o), {})))
"""


@pytest.mark.parametrize("spawn", ["exec", "fork"])
def test_kill_half_way_then_rerun_completes_only_missing(fk, tmp_path, monkeypatch, spawn):
    calls = fk.fake_env(monkeypatch, tmp_path, sleep=0.4)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    args = fk.argv(fk.SMALL, tmp_path)
    proc = subprocess.Popen([sys.executable, str(driver), spawn, str(fk.FAKE), *args], env=dict(os.environ))
    deadline = time.monotonic() + 60
    while sum(e[0] == "end" for e in fk.read_calls(calls)) < 4:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.3)  # the running cell got SIGTERM from the kernel when its parent died
    grid = expand(load_spec(fk.SMALL), "tiny", resolver=fk.resolver, runs_root=tmp_path / "runs")
    done_at_kill = {c.id for c in grid.cells if c.done}
    assert 4 <= len(done_at_kill) < len(grid.cells)
    assert not (tmp_path / "results").exists()
    n_calls = len(fk.read_calls(calls))
    time.sleep(0.6)  # longer than a cell: an orphaned cell would have written its "end" by now
    assert len(fk.read_calls(calls)) == n_calls

    monkeypatch.setenv("FAKE_SLEEP", "0")
    assert cli.main(args, command=fk.fake_command, resolver=fk.resolver) == 0
    rerun = {e[1] for e in fk.read_calls(calls)[n_calls:] if e[0] == "start"}
    assert rerun == {c.id for c in grid.cells} - done_at_kill
    assert all(c.done for c in grid.cells)
    outputs = sorted((tmp_path / "results").iterdir())
    snapshot = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in outputs}
    runs_snapshot = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("*")}

    n_calls = len(fk.read_calls(calls))
    assert cli.main(args, command=fk.fake_command, resolver=fk.resolver) == 0
    assert len(fk.read_calls(calls)) == n_calls
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in outputs} == snapshot
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("*")} == runs_snapshot
