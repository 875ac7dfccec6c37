"""Checkpoints of the reference implementation (microsoft/LoRA, loralib) read into our LoRA layers.

The reference scripts save torch-pickled state dicts of loralib layers:

* GPT-2 (examples/NLG, ``gpt2_ft.py``): ``{'model_state_dict': {...}}`` with
  ``transformer.h.{i}.attn.c_attn.lora_A`` ([2r, d]: q's and v's down-projections stacked) and
  ``...lora_B`` ([2d, r]) from ``loralib.MergedLinear(enable_lora=[True, False, True])``; a final
  checkpoint may also hold the frozen base weights.
* RoBERTa / DeBERTa-v2 (examples/NLU, ``run_glue.py``): a flat dict with
  ``roberta.encoder.layer.{i}.attention.self.query.lora_A`` / ``lora_B`` (``value`` too;
  DeBERTa: ``deberta....query_proj`` / ``value_proj``) from ``loralib.Linear``, plus the task head
  (``classifier.*``; DeBERTa also ``pooler.*``).

Both name the modules as transformers does and lay the factors out as our ``LoRAFusedLinear`` and
``LoRALinear`` do (tests/methods/test_loralib_equivalence.py), so the mapping is the identity on
names, checked shape by shape. Files are read with ``torch.load(weights_only=True)`` only: a file
whose unpickling would run code (a custom class, a function) is refused.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from lora_repro.methods.base import apply_method, head_prefixes, is_head_param
from lora_repro.models.arch import ArchSpec, get_submodule, spec_for

# alpha of the reference scripts, by (family, r): examples/NLG (lora_attn_alpha 32 with r 4) and
# examples/NLU (roberta_*.sh: r 8, alpha 16; deberta_v2_xxlarge_*.sh: r 16, alpha 32)
REFERENCE_ALPHA: dict[tuple[str, int], float] = {
    ("gpt2", 4): 32.0,
    ("roberta", 8): 16.0,
    ("deberta-v2", 16): 32.0,
}
WRAPPERS = ("model_state_dict", "state_dict")
SUFFIXES = (".lora_A", ".lora_B")


class ReferenceFormatError(ValueError):
    """A reference checkpoint that cannot be read or does not fit the model (the message says why)."""


def read_reference(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a reference checkpoint (``{'model_state_dict': ...}`` unwrapped), plain tensors only."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"reference checkpoint {path} not found (expected a .pt/.bin file)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, KeyError ...
        text = str(err)
        found = re.search(r"GLOBAL ([\w.]+)", text)
        if found:
            raise ReferenceFormatError(
                f"{path}: refused: loading it would run arbitrary code (it needs {found.group(1)}); only "
                "plain tensors are read (torch.load weights_only=True): re-save it as a dict of tensors"
            ) from err
        raise ReferenceFormatError(
            f"{path} is not a PyTorch checkpoint ({type(err).__name__}): expected a torch.save'd dict of tensors"
        ) from err
    if isinstance(obj, dict):
        for key in WRAPPERS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise ReferenceFormatError(
            f"{path} holds a {type(obj).__name__}, not a state dict: expected {{name: tensor}} "
            "or {'model_state_dict': {name: tensor}}"
        )
    bad = [str(k) for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ReferenceFormatError(f"{path}: entries that are not tensors: {bad[:5]}")
    if not any(k.endswith(SUFFIXES) for k in obj):
        raise ReferenceFormatError(
            f"{path} holds no LoRA tensors (no key ends in .lora_A / .lora_B; first keys {list(obj)[:3]}): "
            "not a loralib checkpoint"
        )
    return dict(obj)


@dataclass
class Imported:
    """What :func:`import_reference` loaded into the model."""

    r: int
    alpha: float
    targets: list[str]
    lora_tensors: int
    head_tensors: int
    ignored: list[str] = field(default_factory=list)  # frozen base tensors in the file, not needed


def num_labels_of(state: dict[str, torch.Tensor], family: str) -> int | None:
    """The number of classes of an encoder checkpoint's head (its last layer's rows), or None."""
    for key in ("classifier.out_proj.weight", "classifier.weight"):
        if key in state and state[key].dim() == 2:
            return int(state[key].shape[0])
    return None


def _module_targets(spec: ArchSpec) -> dict[str, list[str] | str]:
    """Module path inside a block -> our target name (the fused q|k|v path -> several)."""
    out: dict[str, list[str] | str] = {path: name for name, path in spec.targets.items()}
    if spec.fused_qkv:
        out[spec.fused_qkv] = ["q", "k", "v"]
    return out


def _lora_modules(state: dict[str, torch.Tensor], model: nn.Module, spec: ArchSpec) -> dict[int, set[str]]:
    """Block index -> the module paths (inside the block) that the file's LoRA tensors adapt."""
    prefix = spec.blocks_prefix(model)
    n_blocks = len(spec.get_blocks(model))
    known = _module_targets(spec)
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.(.+)\.lora_[AB]$")
    found: dict[int, set[str]] = {}
    for key in (k for k in state if k.endswith(SUFFIXES)):
        m = pattern.match(key)
        if not m:
            raise ReferenceFormatError(
                f"LoRA tensor {key!r} is not in {spec.family}'s blocks; expected {prefix}.<i>.<module>.lora_A/B"
            )
        block, path = int(m.group(1)), m.group(2)
        if block >= n_blocks:
            raise ReferenceFormatError(
                f"{key}: block {block}, but the model has {n_blocks} blocks (0..{n_blocks - 1}): another model size?"
            )
        if path not in known:
            raise ReferenceFormatError(
                f"{key}: module {path!r} is not a projection LoRA adapts; allowed: {sorted(known)}"
            )
        found.setdefault(block, set()).add(path)
    sets = {frozenset(v) for v in found.values()}
    if len(found) != n_blocks or len(sets) != 1:
        missing = sorted(set(range(n_blocks)) - set(found))
        raise ReferenceFormatError(
            f"the file adapts different modules in different blocks (blocks without LoRA: {missing[:5]}; "
            f"module sets {sorted(sorted(s) for s in sets)}): every block must adapt the same projections"
        )
    return found


def _rank_and_targets(
    state: dict[str, torch.Tensor], spec: ArchSpec, modules: set[str], prefix: str, r: int | None
) -> tuple[int, list[str]]:
    """r from lora_B's columns (the same in every tensor); the targets, incl. the fused layer's slices."""
    ranks = {int(state[k].shape[-1]) for k in state if k.endswith(".lora_B") and state[k].dim() == 2}
    if len(ranks) != 1:
        raise ReferenceFormatError(f"lora_B tensors have ranks {sorted(ranks)}; one rank r is expected")
    rank = ranks.pop()
    if r is not None and int(r) != rank:
        raise ReferenceFormatError(f"r={r} given, but the file's lora_B tensors have rank {rank}")
    targets: list[str] = []
    for path in sorted(modules):
        if path != spec.fused_qkv:
            targets.append({p: name for name, p in spec.targets.items()}[path])
            continue
        a = state[f"{prefix}.0.{path}.lora_A"]
        n = a.shape[0] // rank
        if a.shape[0] % rank or n not in (2, 3):
            raise ReferenceFormatError(
                f"{prefix}.0.{path}.lora_A has {a.shape[0]} rows with r={rank}: expected 2r (q and v, "
                "enable_lora=[True, False, True]) or 3r (q, k and v)"
            )
        targets += ["q", "v"] if n == 2 else ["q", "k", "v"]
    order = ["q", "k", "v", "o", "mlp_in", "mlp_out"]
    return rank, sorted(targets, key=order.index)


def _check_base_tensors(
    state: dict[str, torch.Tensor], model: nn.Module, spec: ArchSpec, keys: list[str]
) -> None:
    """A frozen base tensor in the file (a full reference checkpoint) that differs from the model's
    embedding means the adapter was trained on another base: refused."""
    params = dict(model.named_parameters())
    emb = spec.get_embeddings(model).weight
    for key in keys:
        p = params.get(key)
        if p is None or p is not emb:
            continue
        if tuple(state[key].shape) != tuple(p.shape) or not torch.allclose(state[key].float(), p.float()):
            raise ReferenceFormatError(
                f"{key} in the file differs from the base model's embedding {tuple(p.shape)}: the adapter "
                "was trained on another base model (load the one it was trained on)"
            )


def import_reference(
    model: nn.Module, state: dict[str, torch.Tensor], r: int | None = None, alpha: float | None = None
) -> Imported:
    """Inject LoRA into ``model`` (a pretrained base, encoders with their task head) as the reference
    checkpoint ``state`` describes and copy its tensors in; every shape is checked first."""
    spec = spec_for(model)
    prefix = spec.blocks_prefix(model)
    modules = set().union(*_lora_modules(state, model, spec).values())
    rank, targets = _rank_and_targets(state, spec, modules, prefix, r)
    if alpha is None:
        alpha = REFERENCE_ALPHA.get((spec.family, rank))
        if alpha is None:
            known = ", ".join(f"{f} r={k}: {a:g}" for (f, k), a in REFERENCE_ALPHA.items())
            raise ReferenceFormatError(
                f"alpha cannot be read from the file (r={rank}, {spec.family}); give alpha=<the run's "
                f"lora_alpha> (the reference scripts use {known})"
            )
    heads = head_prefixes(model, spec)
    head_keys = [k for k in state if is_head_param(k, heads)]
    if not spec.decoder and heads and not head_keys:
        raise ReferenceFormatError(
            f"the file has no task head ({', '.join(h + '.*' for h in heads)}): an encoder adapter needs the "
            "classifier it was trained with"
        )
    apply_method(model, "lora", r=rank, alpha=float(alpha), targets=targets, dropout=0.0)
    params = dict(model.named_parameters())
    wanted = sorted(n for n in params if n.endswith(SUFFIXES))
    lora_keys = sorted(k for k in state if k.endswith(SUFFIXES))
    if wanted != lora_keys:
        raise ReferenceFormatError(
            f"LoRA tensors missing from the file: {sorted(set(wanted) - set(lora_keys))[:4]}; "
            f"not in the model: {sorted(set(lora_keys) - set(wanted))[:4]}"
        )
    model_heads = sorted(n for n in params if is_head_param(n, heads))
    if head_keys and sorted(head_keys) != model_heads:
        raise ReferenceFormatError(
            f"the file's head tensors {sorted(head_keys)} are not the model's {model_heads}"
        )
    for key in lora_keys + head_keys:
        have, want = tuple(state[key].shape), tuple(params[key].shape)
        if have != want:
            where = get_submodule(model, key.rsplit(".", 1)[0]) if key.endswith(SUFFIXES) else None
            extra = f" (r={rank}, layer {getattr(where, 'in_features', '?')}->{getattr(where, 'out_features', '?')})"
            raise ReferenceFormatError(
                f"{key}: the file's shape {have} != the model's {want}{extra if where is not None else ''}: "
                "is model= the size the adapter was trained on?"
            )
    ignored = sorted(set(state) - set(lora_keys) - set(head_keys))
    _check_base_tensors(state, model, spec, ignored)
    with torch.no_grad():
        for key in lora_keys + head_keys:
            params[key].copy_(state[key].to(params[key].dtype))
    return Imported(rank, float(alpha), targets, len(lora_keys), len(head_keys), ignored)
