"""Cells as forked children of a warm "zygote": ``lora-repro train`` without paying its imports per cell.

Importing torch, transformers and the trainer costs 2-5 s of wall time per process on a small CPU
machine: a good part of a tiny-profile cell, and half an hour over Table 2's 535 cells. With
``spawn=fork`` the grid starts one clean helper process (``python -m lora_repro.grid.fork``) that
imports them once and then forks one child per cell. The child appends its stdout/stderr to the
cell's log and calls ``lora_repro.cli.main(["train", *overrides])``, exactly what the ``exec`` path
runs, then exits with its return code; every cell is still its own process.

The helper is a fresh interpreter that never runs a torch op, because forking a process whose
OpenMP thread pool is live deadlocks the child (GNU libgomp is not fork-safe). That is also why the
grid process itself never forks cells. Protocol: JSON lines; the grid writes
``{"id", "overrides", "log", "env", "cwd"}``, the helper answers ``{"id", "pid"}`` when the child
started and ``{"id", "code"}`` when it ended. The helper and its children die with the grid (Linux).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PRELOAD = (
    "torch", "transformers", "datasets", "lora_repro.cli", "lora_repro.train.cli", "lora_repro.train.cell",
    "lora_repro.train.worker", "lora_repro.train.trainer", "lora_repro.train.setup", "lora_repro.tasks",
    "lora_repro.metrics", "lora_repro.models.build",
)  # fmt: skip
TRAIN_ENTRY = "lora_repro.grid.fork:train_entry"


def train_entry(overrides: list[str]) -> int:
    """What a forked cell runs: ``lora-repro train <overrides>``."""
    from lora_repro.cli import main

    return main(["train", *overrides])


def die_with_parent() -> None:
    """Linux: SIGTERM this process when its parent dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def load_entry(spec: str) -> Callable[[list[str]], int]:
    """``module:function`` or ``path/to/file.py:function``."""
    target, _, name = spec.rpartition(":")
    if target.endswith(".py"):
        mod_spec = importlib.util.spec_from_file_location(Path(target).stem, target)
        if mod_spec is None or mod_spec.loader is None:
            raise ValueError(f"cannot load entry file {target!r}")
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    return getattr(module, name)


def _child(entry: Callable[[list[str]], int], req: dict) -> None:
    """In the forked child: redirect output to the cell's log, run the entry, exit with its code."""
    code = 1
    try:
        die_with_parent()
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        if req.get("cwd"):
            os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        fd = os.open(req["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        threads = req["env"].get("OMP_NUM_THREADS", "")
        if threads.isdigit() and "torch" in sys.modules:  # the helper loaded torch before this was set
            sys.modules["torch"].set_num_threads(int(threads))
        sys.argv = ["lora-repro", "train", *req["overrides"]]
        code = int(entry(list(req["overrides"])) or 0)
    except SystemExit as err:
        code = err.code if isinstance(err.code, int) else (0 if err.code is None else 1)
    except BaseException:  # noqa: BLE001 - anything goes to the cell's log
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(entry_spec: str, preload: list[str]) -> None:
    """The helper's loop: fork a child per request, report starts and exits, stop at end of input."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the grid's to handle; we end with our input
    for name in preload:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    entry = load_entry(entry_spec)
    out = sys.stdout
    children: dict[int, str] = {}

    def send(msg: dict) -> None:
        out.write(json.dumps(msg) + "\n")
        out.flush()

    send({"ready": True})
    stdin = sys.stdin.buffer
    buf = b""
    open_input = True
    while open_input or children:
        if open_input and select.select([stdin], [], [], 0.05)[0]:
            chunk = os.read(stdin.fileno(), 65536)
            if not chunk:
                open_input = False
                for pid in children:  # the grid is gone: so are its cells
                    os.kill(pid, signal.SIGTERM)
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                req = json.loads(line)
                out.flush()
                pid = os.fork()
                if pid == 0:
                    _child(entry, req)
                children[pid] = req["id"]
                send({"id": req["id"], "pid": pid})
        elif not open_input:
            time.sleep(0.05)
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if not pid:
                break
            send({"id": children.pop(pid), "code": os.waitstatus_to_exitcode(status)})


@dataclass(frozen=True)
class ForkSpawn:
    """The ``spawn=fork`` command of a grid: which entry the forked cells run, what the helper preloads."""

    entry: str = TRAIN_ENTRY
    preload: tuple[str, ...] = PRELOAD

    def argv(self, overrides: tuple[str, ...]) -> list[str]:
        """The command line a forked cell runs, as written in its log."""
        return ["lora-repro", "train", *overrides]


class ForkServer:
    """The grid's side of the helper: start cells, poll their exit codes."""

    def __init__(self, entry: str = TRAIN_ENTRY, preload: tuple[str, ...] = PRELOAD) -> None:
        argv = [sys.executable, "-m", "lora_repro.grid.fork", entry, *preload]
        preexec = die_with_parent if sys.platform.startswith("linux") else None
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=preexec
        )
        self.pids: dict[str, int] = {}
        self.codes: dict[str, int] = {}
        self.cond = threading.Condition()
        if json.loads(self.proc.stdout.readline() or "{}").get("ready") is not True:  # type: ignore[union-attr]
            raise RuntimeError(f"the fork helper did not start: {' '.join(argv)}")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            msg = json.loads(line)
            with self.cond:
                if "pid" in msg:
                    self.pids[msg["id"]] = msg["pid"]
                if "code" in msg:
                    self.codes[msg["id"]] = msg["code"]
                self.cond.notify_all()
        with self.cond:  # the helper died: every cell still running is lost
            for key in self.pids:
                self.codes.setdefault(key, -1)
            self.cond.notify_all()

    def start(
        self, key: str, overrides: list[str], log: Path, env: dict[str, str], cwd: Path | None
    ) -> ForkedCell:
        """Ask the helper to fork cell ``key``; returns once the child is running."""
        req = {
            "id": key,
            "overrides": overrides,
            "log": str(log),
            "env": env,
            "cwd": str(cwd) if cwd else None,
        }
        with self.cond:
            self.codes.pop(key, None)
            self.pids.pop(key, None)
            self.proc.stdin.write(json.dumps(req) + "\n")  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
            if not self.cond.wait_for(lambda: key in self.pids or self.proc.poll() is not None, timeout=60):
                raise RuntimeError(f"the fork helper did not start cell {key}")
        return ForkedCell(self, key)

    def close(self) -> None:
        """End the helper (it exits once its children have)."""
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class ForkedCell:
    """A cell forked by the helper, with the bits of ``subprocess.Popen`` the grid uses."""

    def __init__(self, server: ForkServer, key: str) -> None:
        self.server, self.key = server, key
        self.pid = server.pids.get(key)

    def poll(self) -> int | None:
        """The cell's exit code, or None while it runs."""
        with self.server.cond:
            return self.server.codes.get(self.key)

    def wait(self, timeout: float | None = None) -> int:
        """Block until the cell ends (or ``timeout`` seconds pass)."""
        with self.server.cond:
            if not self.server.cond.wait_for(lambda: self.key in self.server.codes, timeout=timeout):
                raise subprocess.TimeoutExpired(f"cell {self.key}", timeout or 0)
            return self.server.codes[self.key]

    def terminate(self) -> None:
        """SIGTERM the cell."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the cell."""
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        if self.pid and self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2:])
