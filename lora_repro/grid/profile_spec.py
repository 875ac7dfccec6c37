"""A table spec's ``profiles:`` block: what changes for one profile (Table 18's step count, rank cap).

```yaml
profiles:
  paper: {overrides: ["train.max_steps=26000"]}
  tiny:  {overrides: ["train.max_steps=188"], max_rank: width}
```

``overrides`` are added to every cell of that profile (after the spec's own). ``max_rank: width``
skips the rows whose ``method.r`` exceeds the hidden width of the row's model in that profile (the
tiny stand-ins are 64 wide: a rank above the width adds parameters but no rank); an integer caps at
that number instead of the width. The skipped rows are named in the table's title, so the rendered
md/csv/tex say which rows are absent and why.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import yaml

from lora_repro.config import load_group_file
from lora_repro.tables.spec import Row, TableSpec

PROFILE_KEYS = ("overrides", "max_rank")
WIDTH_KEYS = ("n_embd", "hidden_size", "d_model")


def profile_block(spec: TableSpec, profile: str) -> dict[str, Any]:
    """The spec file's ``profiles.<profile>`` mapping (empty when it has none)."""
    if spec.path is None or not spec.path.is_file():
        return {}
    raw = yaml.safe_load(spec.path.read_text()) or {}
    profiles = raw.get("profiles") or {}
    if not isinstance(profiles, dict):
        raise ValueError(f"{spec.path}: 'profiles' must map a profile name to its block, got {profiles!r}")
    block = profiles.get(profile) or {}
    unknown = sorted(set(block) - set(PROFILE_KEYS))
    if unknown:
        raise ValueError(
            f"{spec.path}: profiles.{profile}: unknown keys {unknown}; allowed: {list(PROFILE_KEYS)}"
        )
    return dict(block)


def model_width(model: str, profile: str) -> int:
    """The hidden width of ``model`` in ``profile`` (the tiny profile's ``tiny.hf_config`` over the real one)."""
    cfg = load_group_file("model", model)
    hf = dict(cfg.get("hf_config") or {})
    if profile == "tiny":
        hf.update((cfg.get("tiny") or {}).get("hf_config") or {})
    for key in WIDTH_KEYS:
        if hf.get(key) is not None:
            return int(hf[key])
    raise ValueError(f"model {model!r} has no width ({'/'.join(WIDTH_KEYS)}) in its hf_config")


def rank_limit(row: Row, max_rank: Any, profile: str) -> int | None:
    """The largest ``method.r`` the row may have in this profile (None: no limit)."""
    if max_rank is None:
        return None
    if max_rank == "width":
        return model_width(row.model, profile)
    if isinstance(max_rank, bool) or not isinstance(max_rank, int) or max_rank < 1:
        raise ValueError(f"max_rank must be 'width' or a positive integer, got {max_rank!r}")
    return max_rank


def skipped_rows(spec: TableSpec, profile: str) -> list[tuple[Row, int]]:
    """The rows this profile skips, each with the rank limit it exceeds."""
    max_rank = profile_block(spec, profile).get("max_rank")
    out = []
    for row in spec.rows:
        limit = rank_limit(row, max_rank, profile)
        r = row.method.get("r")
        if limit is not None and isinstance(r, int) and r > limit:
            out.append((row, limit))
    return out


def skip_note(skipped: list[tuple[Row, int]], profile: str, max_rank: Any) -> str:
    """``r=128..1024 skipped: tiny width 64`` (or ``... above max_rank 32``)."""
    ranks = [int(row.method["r"]) for row, _ in skipped]
    span = f"r={ranks[0]}" if len(ranks) == 1 else f"r={ranks[0]}..{ranks[-1]}"
    limits = sorted({limit for _, limit in skipped})
    why = (
        f"{profile} width {'/'.join(map(str, limits))}"
        if max_rank == "width"
        else f"above max_rank {max_rank}"
    )
    return f"{span} skipped: {why}"


def for_profile(spec: TableSpec, profile: str) -> TableSpec:
    """``spec`` as ``profile`` runs it: the profile's overrides added, rows above the rank limit dropped."""
    block = profile_block(spec, profile)
    if not block:
        return spec
    extra = tuple(str(o) for o in block.get("overrides") or ())
    skipped = skipped_rows(spec, profile)
    rows = tuple(r for r in spec.rows if all(r is not s for s, _ in skipped))
    title = spec.title
    if skipped:
        title = f"{title} [{skip_note(skipped, profile, block.get('max_rank'))}]"
    return replace(spec, overrides=(*spec.overrides, *extra), rows=rows, title=title)
