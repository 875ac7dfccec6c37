"""Run the missing cells of a grid as subprocesses, in dependency order, one or ``jobs`` at a time.

A cell is done when ``<run_dir>/DONE`` and the files it vouches for check out (``rundir.check_done``;
the trainer writes DONE last): done cells are skipped, so the grid can be killed at any point and
rerun to finish only what is missing.
Each cell's stdout and stderr go to ``<run_dir>.log`` (appended, one header per attempt). A failed cell
is reported with its log and does not stop the others; cells that depend on it are skipped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lora_repro.grid.cells import Cell
from lora_repro.grid.fork import ForkServer, ForkSpawn, die_with_parent

Command = Callable[[Cell], list[str]] | ForkSpawn


def train_command(cell: Cell) -> list[str]:
    """The default command of a cell: this interpreter's ``lora-repro train <overrides>``."""
    return [sys.executable, "-m", "lora_repro.cli", "train", *cell.overrides]


@dataclass
class Failure:
    """A cell that ended without DONE: its exit code and why."""

    cell: Cell
    returncode: int | None
    reason: str

    def line(self) -> str:
        """One line naming the cell, the reason and the log to read."""
        return f"FAILED {self.cell.name} [{self.cell.id}]: {self.reason}; log: {self.cell.log_path}"


@dataclass
class RunReport:
    """What one grid invocation did: cells already done, finished now, failed, skipped, and wall time."""

    already_done: list[Cell] = field(default_factory=list)
    finished: list[Cell] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    blocked: list[Cell] = field(default_factory=list)  # a dependency failed
    interrupted: bool = False
    wall_time_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing failed, was skipped or interrupted."""
        return not self.failed and not self.blocked and not self.interrupted


class _Interrupt(Exception):
    pass


def _raise_interrupt(signum: int, frame: object) -> None:
    raise _Interrupt(signum)


def _env(jobs: int) -> dict[str, str]:
    env = dict(os.environ)
    if jobs > 1 and "OMP_NUM_THREADS" not in env:  # share the cores instead of oversubscribing them
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    return env


def _start(cell: Cell, command: Command, env: dict[str, str], cwd: Path | None, server: ForkServer | None):  # noqa: ANN202
    """Start a cell: a subprocess of ``command(cell)``, or a child forked by the helper (``spawn=fork``)."""
    cell.log_path.parent.mkdir(parents=True, exist_ok=True)
    argv = command.argv(cell.overrides) if isinstance(command, ForkSpawn) else command(cell)
    env = {**env, "LORA_REPRO_CELL_DIR": str(cell.run_dir)}
    how = "fork: " if server is not None else ""
    with cell.log_path.open("a") as log:
        log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} cell {cell.id}: {how}{' '.join(argv)}\n")
        log.flush()
        if server is not None:
            return server.start(cell.id, list(cell.overrides), cell.log_path.resolve(), env, cwd)
        preexec = die_with_parent if sys.platform.startswith("linux") else None
        return subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd, preexec_fn=preexec
        )


def _progress(total: int, initial: int, desc: str, enabled: bool):  # noqa: ANN202
    from lora_repro.progress import progress_bar

    return progress_bar(
        total=total, initial=initial, desc=desc, unit="cell", disable=not enabled, file=sys.stderr
    )


def _try_lock(cell: Cell) -> int | None:
    """An exclusive lock on ``<run_dir>.lock`` (None when another grid process runs this cell now)."""
    import fcntl

    cell.log_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(cell.run_dir.with_name(cell.run_dir.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def run_cells(
    cells: list[Cell],
    jobs: int = 1,
    command: Command = train_command,
    progress: bool = True,
    desc: str = "cells",
    cwd: Path | None = None,
    poll_s: float = 0.1,
    gpus: list[str] | None = None,
) -> RunReport:
    """Run every cell without DONE, at most ``jobs`` at once, each after the cells it depends on.

    With ``gpus``, job slot i sees only GPU ``gpus[i]`` (CUDA_VISIBLE_DEVICES). A cell that another
    grid process is running (its lock is held) is waited for, not run twice.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    start = time.monotonic()
    report = RunReport()
    by_id = {c.id: c for c in cells}
    pending = [c for c in cells if not c.done]
    report.already_done = [c for c in cells if c.done]
    done_ids = {c.id for c in report.already_done}
    bad_ids: set[str] = set()
    running: dict[str, tuple[Cell, subprocess.Popen, int, int]] = {}
    free = list(range(jobs))
    env = _env(jobs)
    bar = _progress(len(cells), len(report.already_done), desc, progress)

    def refresh() -> None:
        bar.set_postfix(done=len(done_ids), running=len(running), failed=len(report.failed), refresh=True)

    def finished_elsewhere(cell: Cell) -> None:
        pending.remove(cell)
        done_ids.add(cell.id)
        report.already_done.append(cell)
        bar.update(1)

    server = (
        ForkServer(command.entry, command.preload) if isinstance(command, ForkSpawn) and pending else None
    )
    main_thread = threading.current_thread() is threading.main_thread()
    handled = (signal.SIGTERM, signal.SIGHUP) if main_thread else ()
    old = {s: signal.signal(s, _raise_interrupt) for s in handled}
    try:
        refresh()
        while pending or running:
            for cell in list(pending):  # dependencies that failed: skip, and say why
                if any(d in bad_ids or d not in by_id for d in cell.deps):
                    pending.remove(cell)
                    bad_ids.add(cell.id)
                    report.blocked.append(cell)
            for cell in list(pending):
                if cell.done:  # another grid process finished it
                    finished_elsewhere(cell)
                    continue
                if len(running) >= jobs or not all(d in done_ids for d in cell.deps):
                    continue
                lock = _try_lock(cell)
                if lock is None:
                    continue
                if cell.done:
                    os.close(lock)
                    finished_elsewhere(cell)
                    continue
                pending.remove(cell)
                slot = free.pop(0)
                slot_env = {**env, "LORA_REPRO_SLOT": str(slot)}
                if gpus:
                    slot_env["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
                running[cell.id] = (cell, _start(cell, command, slot_env, cwd, server), slot, lock)
                refresh()
            time.sleep(poll_s)
            for cid, (cell, proc, slot, lock) in list(running.items()):
                rc = proc.poll()
                if rc is None:
                    continue
                del running[cid]
                free.append(slot)
                os.close(lock)
                if rc == 0 and cell.done:
                    done_ids.add(cid)
                    report.finished.append(cell)
                    bar.update(1)
                else:
                    bad_ids.add(cid)
                    problem = cell.check().problem or "no DONE marker"
                    reason = f"exit code {rc}" if rc != 0 else f"exit code 0 but {problem}"
                    report.failed.append(Failure(cell, rc, reason))
                    if progress:  # at once above the bar; the closing summary repeats it
                        bar.write(report.failed[-1].line(), file=sys.stderr)
                refresh()
    except (KeyboardInterrupt, _Interrupt):
        report.interrupted = True
        for _, proc, _, _ in running.values():
            proc.terminate()
        for _, proc, _, _ in running.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if server is not None:
            server.close()
        bar.close()
    report.wall_time_s = time.monotonic() - start
    return report
