"""The software and hardware a result was computed under, and the check that .venv matches the lock.

``environment()`` is the block every ``result.json`` records under ``environment`` (and ``lora-repro
env`` prints): the Python version, the versions of the packages that decide the numbers (torch,
transformers, datasets, accelerate, tokenizers, and peft when it is imported), and the device (the
CPU's model name, or the GPU's name and count). ``environment_key`` reduces it to what a table
compares across its cells.

``python -m lora_repro.environment --check-lock requirements/lock-cpu.txt`` (run by ``make setup``)
exits 1 with one line per package whose installed version differs from the lock, or that the lock
names and the environment lacks. Importing this module imports neither torch nor transformers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path

# The packages whose versions a result records: the ones that compute or feed its numbers.
RECORDED = ("torch", "transformers", "datasets", "accelerate", "tokenizers")
# Recorded only when the run imported them (PEFT interop, DeepSpeed ZeRO).
RECORDED_IF_IMPORTED = ("peft", "deepspeed")
# What a table compares across cells: a difference in any of these is flagged in its header.
KEY_FIELDS = ("python", *RECORDED, *RECORDED_IF_IMPORTED, "device")
# Installed by `make setup` but not from the lock.
NOT_LOCKED = {"lora-repro"}

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares it (``PyYAML`` and ``pyyaml``, ``a_b`` and ``a-b`` match)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def device_info() -> dict:
    """``{"kind": "cuda", "name": <GPU>, "count": n}`` where CUDA works, else the CPU and its cores."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return {"kind": "cuda", "name": torch.cuda.get_device_name(0), "count": torch.cuda.device_count()}
    return {"kind": "cpu", "name": cpu_name(), "count": os.cpu_count() or 1}


def device_text(device: dict | None) -> str:
    if not device:
        return "unknown device"
    n = int(device.get("count") or 1)
    if device.get("kind") == "cpu":
        return f"{device.get('name')} ({n} cores)"
    return f"{n} x {device.get('name')}"


def environment() -> dict:
    """The provenance block of a result: Python, the deciding packages, the device."""
    packages = {name: package_version(name) for name in RECORDED}
    for name in RECORDED_IF_IMPORTED:
        if name in sys.modules:
            packages[name] = package_version(name)
    return {
        "python": platform.python_version(),
        "packages": packages,
        "lora_repro": package_version("lora-repro") or "0",
        "platform": f"{platform.system()} {platform.machine()}",
        "device": device_info(),
    }


def environment_of(result: dict) -> dict | None:
    """A result's environment block; results written before it existed carry only ``versions``."""
    if result.get("environment"):
        return result["environment"]
    old = result.get("versions")
    if not old:
        return None
    return {
        "python": old.get("python"),
        "packages": {k: v for k, v in old.items() if k not in ("python", "lora_repro")},
    }


def environment_key(env: dict | None) -> tuple[tuple[str, str], ...]:
    """The fields a table compares across its cells, as a hashable tuple (missing ones as '?')."""
    if not env:
        return (("environment", "not recorded"),)
    packages = env.get("packages") or {}
    key = []
    for field in KEY_FIELDS:
        if field == "python":
            value = env.get("python")
        elif field == "device":
            value = device_text(env.get("device")) if env.get("device") else None
        else:
            value = packages.get(field)
            if value is None and field in RECORDED_IF_IMPORTED:
                continue
        key.append((field, str(value) if value is not None else "?"))
    return tuple(key)


def environment_text(key: tuple[tuple[str, str], ...]) -> str:
    """``Python 3.11.7, torch 2.13.0+cpu, ..., on <device>`` from an ``environment_key``."""
    fields = dict(key)
    if "environment" in fields:
        return "environment not recorded"
    python = fields.pop("python", "?")
    device = fields.pop("device", "?")
    return f"Python {python}, " + ", ".join(f"{k} {v}" for k, v in fields.items()) + f", on {device}"


def read_lock(path: str | os.PathLike) -> dict[str, str]:
    """``{normalized name: version}`` of every ``name==version`` line of a pip requirements lock."""
    pins: dict[str, str] = {}
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "-", "--")):
            continue
        m = _PIN.match(line)
        if m is None:
            raise ValueError(f"{path}: {line!r} is not a name==version pin")
        pins[normalize(m.group(1))] = m.group(2)
    if not pins:
        raise ValueError(f"{path}: no name==version pins found")
    return pins


def installed() -> dict[str, str]:
    """``{normalized name: version}`` of every distribution in this Python's environment."""
    return {normalize(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}


def compare_with_lock(have: dict[str, str], lock: dict[str, str]) -> tuple[list[str], list[str]]:
    """(problems, extras): locked packages that are missing or at another version; unlocked extras."""
    problems = []
    for name, want in sorted(lock.items()):
        got = have.get(name)
        if got is None:
            problems.append(f"{name}: locked at {want}, not installed")
        elif got != want:
            problems.append(f"{name}: locked at {want}, installed {got}")
    extras = sorted(f"{n}=={v}" for n, v in have.items() if n not in lock and n not in NOT_LOCKED)
    return problems, extras


def check_lock(path: str | os.PathLike) -> int:
    problems, extras = compare_with_lock(installed(), read_lock(path))
    if extras:
        print(f"note: installed but not in {path}: {', '.join(extras)}")
    if problems:
        for line in problems:
            print(f"lock mismatch: {line}", file=sys.stderr)
        print(
            f"the environment differs from {path} in {len(problems)} package(s): rerun make setup",
            file=sys.stderr,
        )
        return 1
    print(f"environment matches {path} ({len(read_lock(path))} packages)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lora-repro env", description="Print the environment block every result.json records."
    )
    parser.add_argument(
        "--check-lock", metavar="LOCK", help="compare the installed versions with a lock file"
    )
    parser.add_argument("--json", action="store_true", help="print the block as JSON")
    args = parser.parse_args(argv)
    if args.check_lock:
        if not Path(args.check_lock).is_file():
            print(f"lora-repro env: no lock file {args.check_lock!r}", file=sys.stderr)
            return 2
        return check_lock(args.check_lock)
    import torch  # noqa: F401  (so that the device block can see CUDA)

    env = environment()
    if args.json:
        print(json.dumps(env, indent=2))
    else:
        print(f"python       {env['python']} ({env['platform']})")
        for name, version in env["packages"].items():
            print(f"{name:<12} {version or 'not installed'}")
        print(f"lora_repro   {env['lora_repro']}")
        print(f"device       {device_text(env['device'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
