"""Where a task's rows come from: the HF hub (paper profile), a local copy (``task.source``), or the
tiny generators (tiny profile). All three return a ``datasets.Dataset`` in the hub schema.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Split names that mean the same thing (the parquet converter renames dev -> validation).
SPLIT_ALIASES: dict[str, list[str]] = {
    "dev": ["dev", "validation", "valid", "val"],
    "validation": ["validation", "dev", "valid", "val"],
}
FILE_EXTS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "json", ".json": "json", ".arrow": "arrow"}


@dataclass(frozen=True)
class HubSpec:
    """A hub dataset: id, config name, revision and data_dir (``refs/convert/parquet`` for script repos)."""

    repo: str
    config: str | None = None
    revision: str = "main"
    data_dir: str | None = None


def default_cache_dir() -> Path:
    return Path(os.environ.get("LORA_REPRO_CACHE", os.path.expanduser("~/.cache/lora-repro")))


def _aliases(split: str) -> list[str]:
    return SPLIT_ALIASES.get(split, [split])


def load_hub(spec: HubSpec, split: str, cache_dir: Path):
    """One split from the hub (network; never called by the tests)."""
    from datasets import load_dataset

    kwargs = {"revision": spec.revision, "cache_dir": str(cache_dir / "hf-datasets")}
    if spec.data_dir:
        kwargs["data_dir"] = spec.data_dir
    args = [spec.repo] + ([spec.config] if spec.config and not spec.data_dir else [])
    try:
        dd = load_dataset(*args, **kwargs)
    except (ConnectionError, OSError) as err:  # offline, unknown repo, no such revision
        raise ValueError(
            f"could not load {spec.repo} (revision {spec.revision}) from the HF hub: {err}. "
            "Without network use profile=tiny, or task.source=<dir> with a local copy in the hub schema"
        ) from err
    for name in _aliases(split):
        if name in dd:
            return dd[name]
    raise ValueError(f"{spec.repo}: split {split!r} not found; the hub copy has {sorted(dd)}")


def _split_files(root: Path, split: str) -> list[Path]:
    """Data files of ``split`` under ``root``: <split>/*.ext, <split>-*.ext, <split>.ext (first that matches)."""
    for name in _aliases(split):
        for pattern in (f"{name}/**/*", f"{name}-*", f"{name}.*"):
            files = sorted(p for p in root.glob(pattern) if p.is_file() and p.suffix in FILE_EXTS)
            if files:
                return files
    return []


def load_local(root: str | os.PathLike, split: str, cache_dir: Path, features=None):
    """One split of a local copy in the hub schema: ``save_to_disk`` output or parquet/csv/jsonl files.

    Layouts: a DatasetDict saved with ``save_to_disk`` (``dataset_dict.json``), a Dataset saved per split
    (``<dir>/<split>/state.json``), or files ``<dir>/<split>/*.parquet``, ``<dir>/<split>-*.parquet``,
    ``<dir>/<split>.csv`` (also .jsonl, .json). ``dev`` and ``validation`` are interchangeable.
    """
    from datasets import load_dataset, load_from_disk

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"task.source {str(root)!r} is not a directory")
    if (root / "dataset_dict.json").is_file():
        dd = load_from_disk(str(root))
        for name in _aliases(split):
            if name in dd:
                return dd[name]
        raise ValueError(f"task.source {str(root)!r}: split {split!r} not found; it has {sorted(dd)}")
    for name in _aliases(split):
        if (root / name / "state.json").is_file():
            return load_from_disk(str(root / name))
    files = _split_files(root, split)
    if not files:
        raise FileNotFoundError(
            f"task.source {str(root)!r}: no data for split {split!r} (looked for save_to_disk output, "
            f"{split}/*.parquet, {split}-*.parquet, {split}.csv/.jsonl)"
        )
    builder = FILE_EXTS[files[0].suffix]
    kwargs = {}
    if builder in ("csv", "json") and features is not None:
        kwargs["features"] = features  # text formats carry no types
    return load_dataset(
        builder,
        data_files={"data": [str(f) for f in files]},
        split="data",
        cache_dir=str(cache_dir / "hf-datasets"),
        **kwargs,
    )


def generator_version() -> str:
    """Hash of the synthetic generators' source: cached tiny data is regenerated when they change."""
    h = hashlib.sha256()
    pkg = Path(__file__).resolve().parent
    world = pkg.parent / "tiny" / "synthetic"  # the tiny world's generators (lora_repro/tiny/synthetic)
    for p in sorted([*world.glob("*.py"), pkg / "sources.py"]):
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


@contextmanager
def quiet():
    """Silence datasets' progress bars (save/filter/flatten of small tables) inside the block."""
    from datasets.utils.tqdm import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_quiet = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_quiet:
            enable_progress_bars()


def cached_tiny(key: str, build: Callable[[], object], cache_dir: Path):
    """A generated Dataset saved once under ``cache_dir/data/<key>`` (temp dir + rename), then memory-mapped.

    Disk-backed so that ``Dataset.map`` caches tokenisation by fingerprint; safe under concurrent starts.
    """
    from datasets import load_from_disk

    final = cache_dir / "data" / key
    with quiet():
        if not (final / "state.json").is_file():
            _save_atomic(final, build)
        return load_from_disk(str(final))


def _save_atomic(final: Path, build: Callable[[], object]) -> None:
    if not (final / "state.json").is_file():
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        try:
            build().save_to_disk(str(tmp / "ds"))
            try:
                os.rename(tmp / "ds", final)
            except OSError:
                if not (final / "state.json").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
