"""What every bench command shares: statistics, the results directory, provenance headers, file writing.

Every file a bench command writes starts with the same header: what produced it (the command line),
the git commit, the device, the environment (``lora_repro.environment``) and how busy the machine
was while it ran (load average before and after), so that a ratio is never read without its context.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import shlex
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lora_repro.atomic import write_atomic
from lora_repro.config import git_commit, split_args
from lora_repro.environment import device_info, device_text, environment, environment_key, environment_text


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its ``level`` confidence interval (Student's t; nan for one value)."""
    vals = [float(v) for v in values]
    if not vals:
        return math.nan, math.nan
    mean = statistics.fmean(vals)
    if len(vals) < 2:
        return mean, math.nan
    from scipy.stats import t

    half = float(t.ppf(0.5 + level / 2, len(vals) - 1)) * statistics.stdev(vals) / math.sqrt(len(vals))
    return mean, half


def fmt_ci(mean: float, half: float, digits: int = 1) -> str:
    """``12.3±0.4`` (or ``12.3`` when the interval is undefined)."""
    if math.isnan(mean):
        return "n/a"
    if math.isnan(half):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f}±{half:.{digits}f}"


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` where CUDA works, else ``cpu``; ``cpu``/``cuda`` as given."""
    import torch

    if name not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device={name!r}; allowed: auto, cpu, cuda")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device=cuda but torch.cuda.is_available() is False; use device=cpu or auto")
    return name


def device_slug(device: str) -> str:
    """The results sub-directory of a device: ``cpu``, or the GPU's name (``nvidia-h100-80gb-hbm3``)."""
    if device == "cpu":
        return "cpu"
    import torch

    return re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name(0).lower()).strip("-") or "cuda"


def results_dir(out: str | None, device: str) -> Path:
    """``out`` if given, else ``results/<device slug>/``."""
    return Path(out) if out else Path("results") / device_slug(device)


def sync(device: str) -> None:
    """Wait for the device's queued work (CUDA kernels are asynchronous)."""
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


@dataclass
class Provenance:
    """Who produced a result file, where and under what load."""

    command: str
    started: float = field(default_factory=time.time)
    load_before: tuple[float, float, float] = field(default_factory=os.getloadavg)
    notes: list[str] = field(default_factory=list)

    def header(self, title: str, extra: Iterable[str] = ()) -> list[str]:
        """The Markdown header lines (each ends with two spaces: a line break)."""
        import torch

        env = environment()
        dev = device_info() if torch.cuda.is_available() else env["device"]
        after = os.getloadavg()
        cores = os.cpu_count() or 1
        busy = max(self.load_before[0], after[0])
        load = (
            f"Load average (1 min) {self.load_before[0]:.2f} at the start, {after[0]:.2f} at the end, on "
            f"{cores} cores"
        )
        if busy > 0.5 * cores:
            load += ": the machine was shared with other jobs, so absolute times are noisy; the ratios "
            load += "come from variants measured side by side, interleaved, in one process"
        lines = [
            f"# {title}",
            "",
            f"Produced by `{self.command}` (git commit {git_commit()}), "
            f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(self.started))}, "
            f"{time.time() - self.started:.0f} s.",
            f"Device: {device_text(dev)}; torch threads {torch.get_num_threads()}.",
            f"Environment: {environment_text(environment_key(env))}.",
            load + ".",
            *self.notes,
            *extra,
        ]
        return [f"{line}  " if line else line for line in lines]


def command_line(name: str, argv: Sequence[str]) -> str:
    return " ".join(["lora-repro", "bench", name, *(shlex.quote(a) for a in argv)])


def markdown_table(rows: list[list[str]]) -> list[str]:
    """GitHub Markdown: ``rows[0]`` is the header."""
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    return out + ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows[1:]]


def write_markdown(path: Path, lines: list[str]) -> Path:
    write_atomic(path, "\n".join(lines).rstrip() + "\n")
    return path


def write_csv(path: Path, rows: list[dict[str, Any]], comment: str = "") -> Path:
    """Rows as CSV (columns: the union of keys, in first-seen order); ``comment`` as a leading # line."""
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    buf = io.StringIO()
    if comment:
        buf.write(f"# {comment}\n")
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _cell(v) for k, v in r.items()})
    write_atomic(path, buf.getvalue())
    return path


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return v


def progress(msg: str) -> None:
    """One progress line on stderr, flushed (long runs)."""
    print(msg, file=sys.stderr, flush=True)


def check_unknown(overrides: list[str], allowed: Iterable[str], name: str) -> None:
    """Refuse arguments a bench command does not take, naming the ones it does."""
    if overrides:
        raise ValueError(f"bench {name}: unknown argument(s) {overrides}; allowed keys: {sorted(allowed)}")


def model_options(
    argv: list[str], defaults: dict[str, Any], name: str, shapes: Iterable[str], count: tuple[str, int, int]
) -> dict[str, Any]:
    """A bench command's ``key=value`` options over ``defaults``, unknown keys refused, ``device``
    resolved, ``models`` (comma-separated) checked against ``shapes``, and ``count = (key, on a CPU,
    on a GPU)``: the number of timed repetitions when ``key`` is unset."""
    own, rest = split_args(argv, defaults)
    check_unknown(rest, defaults, name)
    own["device"] = resolve_device(str(own["device"]))
    own["models"] = [m.strip() for m in str(own["models"]).split(",") if m.strip()]
    bad = [m for m in own["models"] if m not in shapes]
    if bad or not own["models"]:
        raise ValueError(f"models={own['models']!r}; allowed: {', '.join(shapes)}")
    own["warmup"] = int(own["warmup"])
    key, cpu, gpu = count
    own[key] = int(own[key] if own[key] is not None else (cpu if own["device"] == "cpu" else gpu))
    return own


def parse_ints(value: Any, key: str) -> list[int]:
    """``"1,2,4"``, ``[1, 2]`` or ``4`` -> a list of positive ints."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    try:
        out = [int(str(v).strip()) for v in items if str(v).strip()]
    except ValueError:
        raise ValueError(f"{key}={value!r}: expected comma-separated positive integers") from None
    if not out or any(v < 1 for v in out):
        raise ValueError(f"{key}={value!r}: expected comma-separated positive integers")
    return out
