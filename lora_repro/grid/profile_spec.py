"""A table spec's ``profiles:`` block: what changes for one profile (Table 18's step count, rank cap).

```yaml
profiles:
  paper: {overrides: ["train.max_steps=26000"]}
  tiny:  {overrides: ["train.max_steps=188"], max_rank: width}
```

``overrides`` are added to every cell of that profile (after the spec's own). ``max_rank: width``
skips the rows whose ``method.r`` exceeds the hidden width of the row's model in that profile (the
tiny stand-ins are 64 wide: a rank above the width adds parameters but no rank); an integer caps at
that number instead of the width. ``max_prefix: positions`` skips the prefix rows whose virtual
tokens ``method.l_p + method.l_i`` leave no room in the model's positions for the profile's longest
input and output (``scale.train.max_length`` + ``scale.generation.max_new_tokens``: the tiny GPT-3
has 512 positions, so l_p=512 cannot run there); an integer caps l_p + l_i at that number instead.
The skipped rows are named in the table's title, so the rendered md/csv/tex say which rows are
absent and why.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import yaml

from lora_repro.config import load_group_file
from lora_repro.tables.spec import Row, TableSpec

PROFILE_KEYS = ("overrides", "max_rank", "max_prefix")
WIDTH_KEYS = ("n_embd", "hidden_size", "d_model")
POSITION_KEYS = ("n_positions", "max_position_embeddings")


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


def _hf_config(model: str, profile: str) -> dict[str, Any]:
    cfg = load_group_file("model", model)
    hf = dict(cfg.get("hf_config") or {})
    if profile == "tiny":
        hf.update((cfg.get("tiny") or {}).get("hf_config") or {})
    return hf


def _hf_int(model: str, profile: str, keys: tuple[str, ...], what: str) -> int:
    hf = _hf_config(model, profile)
    for key in keys:
        if hf.get(key) is not None:
            return int(hf[key])
    raise ValueError(f"model {model!r} has no {what} ({'/'.join(keys)}) in its hf_config")


def model_width(model: str, profile: str) -> int:
    """The hidden width of ``model`` in ``profile`` (the tiny profile's ``tiny.hf_config`` over the real one)."""
    return _hf_int(model, profile, WIDTH_KEYS, "width")


def model_positions(model: str, profile: str) -> int:
    """How many positions ``model`` has in ``profile`` (``n_positions`` / ``max_position_embeddings``)."""
    return _hf_int(model, profile, POSITION_KEYS, "position count")


def io_budget(profile: str) -> tuple[int, int]:
    """The profile's longest input and output: ``scale.train.max_length``, ``scale.generation.max_new_tokens``."""
    scale = load_group_file("profile", profile).get("scale") or {}
    length = (scale.get("train") or {}).get("max_length")
    new = (scale.get("generation") or {}).get("max_new_tokens")
    if not isinstance(length, int) or not isinstance(new, int):
        raise ValueError(
            f"max_prefix: positions needs profile {profile!r} to set scale.train.max_length and "
            f"scale.generation.max_new_tokens (got {length!r}, {new!r}); give max_prefix an integer instead"
        )
    return length, new


def prefix_limit(row: Row, max_prefix: Any, profile: str) -> int | None:
    """The largest ``l_p + l_i`` the row may have in this profile (None: no limit)."""
    if max_prefix is None:
        return None
    if max_prefix == "positions":
        length, new = io_budget(profile)
        return model_positions(row.model, profile) - length - new
    if isinstance(max_prefix, bool) or not isinstance(max_prefix, int) or max_prefix < 1:
        raise ValueError(f"max_prefix must be 'positions' or a positive integer, got {max_prefix!r}")
    return max_prefix


def rank_limit(row: Row, max_rank: Any, profile: str) -> int | None:
    """The largest ``method.r`` the row may have in this profile (None: no limit)."""
    if max_rank is None:
        return None
    if max_rank == "width":
        return model_width(row.model, profile)
    if isinstance(max_rank, bool) or not isinstance(max_rank, int) or max_rank < 1:
        raise ValueError(f"max_rank must be 'width' or a positive integer, got {max_rank!r}")
    return max_rank


def _virtual(row: Row) -> int | None:
    l_p, l_i = row.method.get("l_p"), row.method.get("l_i", 0)
    if not isinstance(l_p, int) or not isinstance(l_i, int):
        return None
    return l_p + l_i


def skipped_rows(spec: TableSpec, profile: str) -> list[tuple[Row, int]]:
    """The rows this profile skips for their rank, each with the rank limit it exceeds."""
    max_rank = profile_block(spec, profile).get("max_rank")
    out = []
    for row in spec.rows:
        limit = rank_limit(row, max_rank, profile)
        r = row.method.get("r")
        if limit is not None and isinstance(r, int) and r > limit:
            out.append((row, limit))
    return out


def skipped_prefix_rows(spec: TableSpec, profile: str) -> list[tuple[Row, int]]:
    """The prefix rows this profile skips, each with the l_p + l_i limit it exceeds."""
    max_prefix = profile_block(spec, profile).get("max_prefix")
    out = []
    for row in spec.rows:
        n = _virtual(row)
        if n is None:
            continue
        limit = prefix_limit(row, max_prefix, profile)
        if limit is not None and n > limit:
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


def prefix_note(skipped: list[tuple[Row, int]], profile: str, max_prefix: Any) -> str:
    """``PrefixEmbed l_p=512, l_i=8 skipped: l_p + l_i > 376 (tiny positions 512 - input 96 - output 40)``."""
    labels = ", ".join(row.label for row, _ in skipped)
    limits = "/".join(str(x) for x in sorted({limit for _, limit in skipped}))
    if max_prefix == "positions":
        length, new = io_budget(profile)
        positions = "/".join(str(p) for p in sorted({model_positions(r.model, profile) for r, _ in skipped}))
        why = f"l_p + l_i > {limits} ({profile} positions {positions} - input {length} - output {new})"
    else:
        why = f"l_p + l_i above max_prefix {max_prefix}"
    return f"{labels} skipped: {why}"


def _skips(spec: TableSpec, profile: str, block: dict) -> tuple[list, list[str]]:
    """(the rows ``profile`` skips, one sentence per kind of skip: rank above its limit, prefix too long)."""
    by_rank, by_prefix = skipped_rows(spec, profile), skipped_prefix_rows(spec, profile)
    notes = []
    if by_rank:
        notes.append(skip_note(by_rank, profile, block.get("max_rank")))
    if by_prefix:
        notes.append(prefix_note(by_prefix, profile, block.get("max_prefix")))
    return [s for s, _ in by_rank + by_prefix], notes


def skip_notes(spec: TableSpec, profile: str) -> list[str]:
    """One sentence per kind of row that ``profile`` skips (rank above its limit, prefix too long), [] when none."""
    block = profile_block(spec, profile)
    return _skips(spec, profile, block)[1] if block else []


def for_profile(spec: TableSpec, profile: str) -> TableSpec:
    """``spec`` as ``profile`` runs it: the profile's overrides added, rows above the rank or prefix
    limit dropped, and the title ending in one ``[...]`` per :func:`skip_notes` sentence."""
    block = profile_block(spec, profile)
    if not block:
        return spec
    extra = tuple(str(o) for o in block.get("overrides") or ())
    gone, notes = _skips(spec, profile, block)
    rows = tuple(r for r in spec.rows if all(r is not s for s in gone))
    title = spec.title + "".join(f" [{n}]" for n in notes)
    return replace(spec, overrides=(*spec.overrides, *extra), rows=rows, title=title)
