"""A cell's run directory: its layout in one place, for train (which writes it), grid and tables.

::

    runs/<profile>/<cell hash>/
      config.yaml              the resolved config the worker ran (written before training)
      train_log.jsonl          one JSON line per logged step and epoch
      checkpoints/epoch-N/     the newest epoch checkpoint(s); removed once DONE (unless kept)
      adapter/                 adapter_config.json + adapter_model.safetensors (the best epoch)
      predictions_test.jsonl   per-input test predictions; NLG also hypotheses_test.txt, references_test.txt
      result.json              written atomically ...
      DONE                     ... then this marker, last: what it vouches for (below)
      damaged-<time>/          the files of a finished run found damaged, moved aside before a rerun

``DONE`` is a JSON object: the cell's ``config_hash`` and the size and sha256 of ``result.json`` and of
the adapter's files. A run is finished when :func:`check_done` finds DONE, the files it names and the
asked-for config hash in agreement; train (skip or rerun), grid (which cells are missing) and tables
(which results to read) all ask it. A ``DONE`` written before digests existed (a timestamp) is
accepted when ``result.json`` parses and its ``config_hash`` is the asked-for one (docs/hardening.md).

Nothing here imports torch, the trainer, the grid or the tables.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lora_repro.atomic import write_atomic

CONFIG = "config.yaml"
RESULT = "result.json"
DONE = "DONE"
TRAIN_LOG = "train_log.jsonl"
CHECKPOINTS = "checkpoints"
ADAPTER = "adapter"
# The PEFT weights file inside ADAPTER (lora_repro.methods.io.WEIGHTS_NAME; a test keeps them equal).
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
PREDICTIONS = "predictions_test.jsonl"
HYPOTHESES = "hypotheses_test.txt"
REFERENCES = "references_test.txt"
DAMAGED_PREFIX = "damaged-"
DONE_FORMAT = 1
# what DONE vouches for, relative to the run directory (the adapter files when the run wrote them)
VOUCHED = (RESULT, f"{ADAPTER}/{ADAPTER_WEIGHTS}", f"{ADAPTER}/{ADAPTER_CONFIG}")
# the outputs of a finished run: moved aside together when one of them is damaged
OUTPUTS = (DONE, RESULT, ADAPTER, PREDICTIONS, HYPOTHESES, REFERENCES)


class DamagedRunError(ValueError):
    """A run directory whose DONE, result.json or adapter cannot be trusted (the message names the file)."""


@dataclass(frozen=True)
class DoneCheck:
    """What :func:`check_done` found: ``state`` is missing | ok | legacy | damaged | foreign."""

    run_dir: Path
    state: str
    problem: str = ""  # one line naming the file, for damaged and foreign
    config_hash: str | None = None  # the hash DONE (or a legacy result.json) records

    @property
    def ok(self) -> bool:
        """True when the run is finished and its files are the ones DONE vouches for."""
        return self.state in ("ok", "legacy")


_DIGESTS: dict[tuple[str, int, int, int], str] = {}


def file_digest(path: str | Path) -> str:
    """sha256 of a file (memoised on path, size, mtime and inode: the grid asks again every poll)."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _legacy(run_dir: Path, config_hash: str | None) -> DoneCheck:
    """A DONE without digests: trusted when result.json parses and names the asked-for hash."""
    result_file = run_dir / RESULT
    try:
        result = _load_json(result_file)
    except FileNotFoundError:
        return DoneCheck(run_dir, "damaged", f"{result_file} is missing but {run_dir / DONE} says finished")
    except (OSError, ValueError) as err:
        return DoneCheck(run_dir, "damaged", f"{result_file} is damaged ({_short(err)})")
    if not isinstance(result, dict):
        return DoneCheck(run_dir, "damaged", f"{result_file} is damaged (not a JSON object)")
    recorded = result.get("config_hash")
    if config_hash and recorded and recorded != config_hash:
        return _foreign(run_dir, result_file, recorded, config_hash)
    return DoneCheck(run_dir, "legacy", config_hash=recorded)


def _foreign(run_dir: Path, file: Path, recorded: str, asked: str) -> DoneCheck:
    return DoneCheck(
        run_dir,
        "foreign",
        f"{file} belongs to cell {recorded}, not to the asked-for cell {asked}: "
        f"run_dir={run_dir} is another cell's; choose another run_dir (or leave it out)",
        recorded,
    )


def _short(err: BaseException) -> str:
    return str(err).splitlines()[0][:120] if str(err) else type(err).__name__


def check_done(run_dir: str | Path, config_hash: str | None = None) -> DoneCheck:
    """Is ``run_dir`` a finished run of the cell ``config_hash`` (any cell when None)?"""
    run_dir = Path(run_dir)
    done = run_dir / DONE
    if not done.is_file():
        return DoneCheck(run_dir, "missing")
    try:
        text = done.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return DoneCheck(run_dir, "damaged", f"{done} is unreadable ({_short(err)})")
    try:
        marker = json.loads(text)
    except ValueError:
        marker = None
    if not isinstance(marker, dict):
        if text.lstrip().startswith("{"):
            return DoneCheck(run_dir, "damaged", f"{done} is damaged (truncated JSON)")
        return _legacy(run_dir, config_hash)  # a timestamp (or empty): DONE from before the digests
    recorded = marker.get("config_hash")
    if config_hash and recorded and recorded != config_hash:
        return _foreign(run_dir, done, recorded, config_hash)
    files = marker.get("files")
    if not isinstance(files, dict) or RESULT not in files:
        return DoneCheck(run_dir, "damaged", f"{done} is damaged (it names no {RESULT} digest)")
    for rel, want in files.items():
        path = run_dir / rel
        if not path.is_file():
            return DoneCheck(run_dir, "damaged", f"{path} is missing but {done} vouches for it", recorded)
        try:
            size, digest = path.stat().st_size, file_digest(path)
        except OSError as err:
            return DoneCheck(run_dir, "damaged", f"{path} is unreadable ({_short(err)})", recorded)
        if size != want.get("bytes"):
            problem = f"{path} is damaged ({size} bytes, {done} records {want.get('bytes')})"
            return DoneCheck(run_dir, "damaged", problem, recorded)
        if digest != want.get("sha256"):
            problem = f"{path} is damaged (its sha256 differs from the one {done} records)"
            return DoneCheck(run_dir, "damaged", problem, recorded)
    return DoneCheck(run_dir, "ok", config_hash=recorded)


def is_done(run_dir: str | Path, config_hash: str | None = None) -> bool:
    """True when the cell finished and its files check out (:func:`check_done`)."""
    return check_done(run_dir, config_hash).ok


def read_result(run_dir: str | Path, config_hash: str | None = None) -> dict[str, Any] | None:
    """A finished run's ``result.json``; None while the run is not DONE.

    Raises :class:`DamagedRunError` (one line naming the file) when DONE exists but the run's files
    do not check out, or belong to another cell than ``config_hash``."""
    check = check_done(run_dir, config_hash)
    if check.state == "missing":
        return None
    if not check.ok:
        raise DamagedRunError(check.problem)
    path = Path(run_dir) / RESULT
    try:
        result = _load_json(path)
    except (OSError, ValueError) as err:  # changed between the check and the read
        raise DamagedRunError(f"{path} is damaged ({_short(err)})") from err
    return result


def write_result(run_dir: str | Path, result: dict[str, Any]) -> None:
    """``result.json`` atomically, then ``DONE`` (last) with the digests of what it vouches for."""
    run_dir = Path(run_dir)
    write_atomic(run_dir / RESULT, json.dumps(result, indent=1) + "\n")
    files = {}
    for rel in VOUCHED:
        path = run_dir / rel
        if path.is_file():
            files[rel] = {"bytes": path.stat().st_size, "sha256": file_digest(path)}
    marker = {
        "format": DONE_FORMAT,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "config_hash": result.get("config_hash"),
        "files": files,
    }
    write_atomic(run_dir / DONE, json.dumps(marker, indent=1) + "\n")


def move_aside(run_dir: str | Path, names: tuple[str, ...] = OUTPUTS) -> Path | None:
    """Move a finished run's outputs into ``<run_dir>/damaged-<time>/`` (never deleted); that dir or None."""
    run_dir = Path(run_dir)
    present = [n for n in names if (run_dir / n).exists()]
    if not present:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = run_dir / f"{DAMAGED_PREFIX}{stamp}"
    n = 1
    while target.exists():
        n += 1
        target = run_dir / f"{DAMAGED_PREFIX}{stamp}-{n}"
    target.mkdir()
    for name in present:  # DONE first: a crash in between leaves a run that is merely unfinished
        os.replace(run_dir / name, target / name)
    return target


def adapter_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / ADAPTER


def has_adapter(directory: str | Path) -> bool:
    """True when ``directory`` holds adapter weights (a run's ``adapter/`` or any adapter directory)."""
    return (Path(directory) / ADAPTER_WEIGHTS).is_file()


def checkpoints_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINTS
