"""``make test-latest``: the test suite on the newest releases of every dependency, in a throwaway venv.

Builds ``.venv-latest/`` from nothing with the newest releases that ``pyproject.toml``'s ranges allow
(``pip install --upgrade --upgrade-strategy eager -e .[dev,slurm]``, no lock, no constraints file
but the torch build),
runs pytest there and writes the outcome to ``docs/test-latest.md``: the date, pass or fail with
pytest's closing line, and every package whose version differs from the lock. A release that breaks
the suite shows up here before a user meets it; CI does not run this (it would make CI depend on
what was released that morning).

torch stays at the lock's CPU build (``--torch``, default ``torch==2.13.0``): a newer torch on a CPU
machine means a multi-GB CUDA download. Usage::

    python3 scripts/test_latest.py [--lock requirements/lock-cpu.txt] [--pytest-args "-x -q"] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _environment_module():
    """lora_repro/environment.py by path: this script runs under a Python without torch (importing the
    package would import torch)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_lora_repro_environment", ROOT / "lora_repro" / "environment.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_env = _environment_module()
normalize, read_lock = _env.normalize, _env.read_lock

KEY = (
    "torch",
    "transformers",
    "tokenizers",
    "datasets",
    "accelerate",
    "peft",
    "deepspeed",
    "numpy",
    "safetensors",
)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    print("+ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT, **kw)


def build(venv: Path, torch_spec: str) -> Path:
    if venv.exists():
        shutil.rmtree(venv)
    run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    run([str(py), "-m", "pip", "install", "--upgrade", "pip", "setuptools", "wheel"], check=True)
    run([str(py), "-m", "pip", "install", torch_spec], check=True)
    # everything else at its newest release; torch held at the build just installed
    hold = venv / "hold-torch.txt"
    hold.write_text(torch_spec + "\n")
    upgrade = ["--upgrade", "--upgrade-strategy", "eager", "--constraint", str(hold)]
    run([str(py), "-m", "pip", "install", *upgrade, "-e", ".[dev,slurm]"], check=True)
    return py


def freeze(py: Path) -> dict[str, str]:
    out = run([str(py), "-m", "pip", "list", "--format=json"], check=True, capture_output=True, text=True)
    return {normalize(p["name"]): p["version"] for p in json.loads(out.stdout)}


def closing_line(output: str) -> str:
    lines = [ln.strip("= ").strip() for ln in output.splitlines() if ln.strip()]
    for line in reversed(lines):
        if " passed" in line or " failed" in line or " error" in line or "no tests ran" in line:
            return line
    return lines[-1] if lines else "(no output)"


def report(lock_path: Path, lock: dict[str, str], have: dict[str, str], rc: int, summary: str, torch_spec: str,
           pytest_args: list[str]) -> str:  # fmt: skip
    today = dt.date.today().isoformat()
    newer = [(n, lock[n], have[n]) for n in sorted(lock) if n in have and have[n] != lock[n]]
    added = sorted(n for n in have if n not in lock and n != "lora-repro")
    dropped = sorted(n for n in lock if n not in have)
    verdict = "PASSED" if rc == 0 else f"FAILED (pytest exit {rc})"
    lines = [
        "# The test suite on the newest releases (`make test-latest`)",
        "",
        "Written by `scripts/test_latest.py` (`make test-latest`); CI does not run it. It builds a throwaway",
        "`.venv-latest/` with the newest releases that `pyproject.toml` allows, without the lock, and runs the",
        f"test suite there. torch stays at `{torch_spec}` (the CPU build; a newer torch is a CUDA download here).",
        "",
        f"- **Last run:** {today}, Python {sys.version.split()[0]}, {os.uname().machine}",
        f"- **Result:** {verdict}: `{summary}`",
        f"- **pytest arguments:** `{' '.join(pytest_args) or '(none)'}`",
        "",
        "| package | newest (this run) | lock |",
        "|---|---|---|",
    ]
    lines += [f"| {n} | {have.get(n, '—')} | {lock.get(n, '—')} |" for n in KEY]
    lines += ["", f"Every package whose newest release differs from `{lock_path.relative_to(ROOT)}`:", ""]
    lines += [f"- {n}: {old} (lock) -> {new}" for n, old, new in newer] or [
        "- none: the lock is the newest today"
    ]
    if added:
        lines += ["", "Installed here but not in the lock: " + ", ".join(added)]
    if dropped:
        lines += ["", "In the lock but not installed here: " + ", ".join(dropped)]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lock", default="requirements/lock-cpu.txt")
    ap.add_argument("--venv", default=".venv-latest")
    ap.add_argument("--torch", default=os.environ.get("TORCH_SPEC", "torch==2.13.0"))
    ap.add_argument("--pytest-args", default="")
    ap.add_argument("--out", default="docs/test-latest.md")
    ap.add_argument("--keep", action="store_true", help="keep .venv-latest/ afterwards")
    args = ap.parse_args()
    lock_path = ROOT / args.lock
    lock = read_lock(lock_path)
    venv = ROOT / args.venv
    py = build(venv, args.torch)
    have = freeze(py)
    check = run([str(py), "-m", "pip", "check"])
    pytest_args = shlex.split(args.pytest_args)
    proc = run([str(py), "-m", "pytest", *pytest_args], capture_output=True, text=True)
    sys.stdout.write(proc.stdout[-20000:])
    sys.stderr.write(proc.stderr[-5000:])
    rc = proc.returncode or check.returncode
    summary = closing_line(proc.stdout)
    out = ROOT / args.out
    tmp = out.with_suffix(".tmp")
    tmp.write_text(report(lock_path, lock, have, rc, summary, args.torch, pytest_args))
    os.replace(tmp, out)
    print(f"test-latest: {'passed' if rc == 0 else 'FAILED'} ({summary}); written to {out.relative_to(ROOT)}")
    if not args.keep:
        shutil.rmtree(venv, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
