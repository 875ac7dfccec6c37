"""Epoch checkpoints in safetensors + JSON: what trains, the optimizer state, the bookkeeping.

``<run_dir>/checkpoints/epoch-<n>/`` holds

* ``trainable.safetensors``: every parameter with ``requires_grad`` (adapter-only methods: only what
  trains; FT: the whole model), keyed by parameter name;
* ``best.safetensors``: the trainable parameters of the best epoch so far (absent when it is this
  epoch: then ``trainable.safetensors`` is the best);
* ``optimizer.safetensors`` + ``state.json``: AdamW moments and steps by parameter name, the optimizer
  step counter, per-epoch history, the best epoch.

No pickle anywhere: accelerate's ``save_state`` writes the optimizer and RNG states with
``torch.save`` and loads them with ``weights_only=False``, which the project's rules forbid for
files a user may be handed. The RNG needs no saving: every epoch reseeds from ``(seed, epoch, rank)``.

DeepSpeed ZeRO (stages 1-3) keeps the optimizer state in one partition per rank: each rank then
writes its own ``optimizer-rank<r>.safetensors`` + ``.json`` (tensors in safetensors, the rest of the
nested state as JSON; objects that are neither, such as DeepSpeed's loss scaler, are taken from the
live optimizer on load), and a resume needs the same number of processes.

Under FSDP (train/sharding.py) parameters and AdamW moments are DTensors: every rank gathers them
into whole tensors (collective calls, in the same order on every rank) and rank 0 writes the same
files as a one-process run, so such a checkpoint resumes on any number of processes; loading cuts
the whole tensors back into each rank's shard. Under DeepSpeed ZeRO-3 the trainable parameters are
gathered the same way (``GatheredParameters``) and the optimizer partitions are saved per rank as
for ZeRO-1/2.

A checkpoint appears by atomic rename of a finished temporary directory; older ones are removed
after the new one exists, so a kill at any moment leaves the previous complete checkpoint.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from lora_repro.atomic import publish_dir, share_tree
from lora_repro.train.sharding import assign, full, shard_like

_EPOCH_DIR = re.compile(r"^epoch-(\d+)$")


@dataclass
class TrainState:
    """Bookkeeping carried from epoch to epoch (and across a resume)."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps taken
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best_value: float | None = None


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The trainable parameters by name, whole detached CPU copies (FSDP, ZeRO-3: a collective
    gather, every rank must call it)."""
    return {
        n: full(p).detach().to("cpu", copy=True).contiguous()
        for n, p in model.named_parameters()
        if p.requires_grad
    }


def load_trainable(model: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Copy saved trainable parameters into ``model``; every trainable parameter must be present."""
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    missing, extra = sorted(set(params) - set(tensors)), sorted(set(tensors) - set(params))
    if missing or extra:
        raise ValueError(
            f"checkpoint does not match the model: missing {missing[:3]}, unexpected {extra[:3]}"
        )
    for n, p in params.items():
        assign(p, tensors[n])


def _optimizer_tensors(optimizer: torch.optim.Optimizer, names: dict[int, str]) -> tuple[dict, dict]:
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            t = v if isinstance(v, torch.Tensor) else torch.tensor(v)
            tensors[f"{names[idx]}::{k}"] = full(t.detach()).to("cpu", copy=True).contiguous()
    groups = [{k: v for k, v in g.items() if k != "params"} for g in sd["param_groups"]]
    return tensors, {
        "param_groups": groups,
        "order": [names[i] for g in sd["param_groups"] for i in g["params"]],
    }


def _param_names(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[int, str]:
    """Optimizer state index -> parameter name (the order ``state_dict`` numbers them in)."""
    by_id = {id(p): n for n, p in model.named_parameters()}
    out, i = {}, 0
    for g in optimizer.param_groups:
        for p in g["params"]:
            out[i] = by_id[id(p)]
            i += 1
    return out


# ---- any nested state (DeepSpeed's ZeRO optimizer) as safetensors + JSON, no pickle ----------------


def encode_state(obj: Any, tensors: dict[str, torch.Tensor], path: str = "") -> Any:
    """A JSON skeleton of ``obj``; its tensors go to ``tensors`` under their path.

    Dicts keep their key types (``{"__dict__": [[key, value], ...]}``), tuples stay tuples, and
    leaves that are not JSON (enums, DeepSpeed's loss scaler, named tuples of slice addresses) are
    marked ``{"__live__": type name}``: :func:`decode_state` takes them from the live object.
    """
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().to("cpu", copy=True).contiguous()
        return {"__tensor__": path}
    if isinstance(obj, dict):
        return {"__dict__": [[k, encode_state(v, tensors, f"{path}/{k}")] for k, v in obj.items()]}
    if type(obj) in (list, tuple):
        items = [encode_state(v, tensors, f"{path}[{i}]") for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else {"__tuple__": items}
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    return {"__live__": type(obj).__name__}


def decode_state(skel: Any, tensors: dict[str, torch.Tensor], live: Any, path: str = "") -> Any:
    """Inverse of :func:`encode_state`; ``live`` (the same structure, e.g. a fresh state_dict) fills
    the ``__live__`` leaves."""

    def child(key):
        try:
            return live[key]
        except (KeyError, IndexError, TypeError):
            return None

    if isinstance(skel, list):
        return [decode_state(v, tensors, child(i), f"{path}[{i}]") for i, v in enumerate(skel)]
    if isinstance(skel, dict):
        if "__tensor__" in skel:
            return tensors[skel["__tensor__"]]
        if "__dict__" in skel:
            return {k: decode_state(v, tensors, child(k), f"{path}/{k}") for k, v in skel["__dict__"]}
        if "__tuple__" in skel:
            return tuple(
                decode_state(v, tensors, child(i), f"{path}[{i}]") for i, v in enumerate(skel["__tuple__"])
            )
        if "__live__" in skel:
            if live is None or type(live).__name__ != skel["__live__"]:
                raise ValueError(
                    f"checkpoint state {path!r}: expected a live {skel['__live__']}, the optimizer has "
                    f"{type(live).__name__}; resume with the same accelerate/DeepSpeed configuration"
                )
            return live
    return skel


def save_rank_state(directory: Path, rank: int, state: Any) -> None:
    """``optimizer-rank<r>.safetensors`` + ``.json`` of one rank's (sharded) optimizer state."""
    tensors: dict[str, torch.Tensor] = {}
    skel = encode_state(state, tensors)
    save_file(tensors, str(directory / f"optimizer-rank{rank}.safetensors"))
    (directory / f"optimizer-rank{rank}.json").write_text(json.dumps(skel))


def load_rank_state(directory: Path, rank: int, live: Any) -> Any:
    skel = json.loads((directory / f"optimizer-rank{rank}.json").read_text())
    return decode_state(skel, read_tensors(directory, f"optimizer-rank{rank}.safetensors"), live)


def epoch_dirs(run_dir: Path) -> list[tuple[int, Path]]:
    """Complete epoch checkpoints, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _EPOCH_DIR.match(p.name)) and p.is_dir()]
    return sorted(found)


def _write_weights_and_state(
    directory: Path,
    weights: dict[str, torch.Tensor],
    state: TrainState,
    best: dict[str, torch.Tensor] | None,
    optimizer_meta: dict[str, Any],
) -> None:
    """What every checkpoint has: the trainable weights, the best epoch's (if not this one), state.json."""
    save_file(weights, str(directory / "trainable.safetensors"))
    if best is not None and state.best_epoch != state.epoch:
        save_file(best, str(directory / "best.safetensors"))
    meta = {"state": state.__dict__, "optimizer": optimizer_meta}
    (directory / "state.json").write_text(json.dumps(meta, indent=1, sort_keys=True))


def _prune(run_dir: Path, keep: int) -> None:
    for _, old in epoch_dirs(run_dir)[: -max(1, keep)]:
        shutil.rmtree(old, ignore_errors=True)


def save_checkpoint(
    run_dir: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: TrainState,
    best: dict[str, torch.Tensor] | None,
    keep: int = 1,
    accelerator=None,
) -> Path:
    """Write ``checkpoints/epoch-<state.epoch>`` atomically and prune older ones.

    ``accelerator`` given (FSDP): every rank calls this, the gathers are collective, rank 0 writes.
    """
    root = Path(run_dir) / "checkpoints"
    final = root / f"epoch-{state.epoch}"
    weights = trainable_state(model)
    opt_tensors, opt_meta = _optimizer_tensors(optimizer, _param_names(model, optimizer))
    if accelerator is None or accelerator.is_main_process:
        root.mkdir(parents=True, exist_ok=True)
        with publish_dir(final) as tmp:
            save_file(opt_tensors, str(tmp / "optimizer.safetensors"))
            _write_weights_and_state(tmp, weights, state, best, opt_meta)
        _prune(run_dir, keep)
    if accelerator is not None:
        accelerator.wait_for_everyone()
    return final


def save_sharded_checkpoint(
    accelerator, run_dir: Path, model: nn.Module, optimizer, state: TrainState,
    best: dict[str, torch.Tensor] | None, keep: int = 1,
) -> Path:  # fmt: skip
    """Every rank calls this: each writes its optimizer partition, rank 0 the rest, then publishes.

    The files gather in ``checkpoints/.epoch-<n>.staging`` and appear as ``epoch-<n>`` by one rename
    once every rank has written, so a kill leaves the previous complete checkpoint as the newest.
    """
    root = Path(run_dir) / "checkpoints"
    final, staging = root / f"epoch-{state.epoch}", root / f".epoch-{state.epoch}.staging"
    main = accelerator.is_main_process
    weights = trainable_state(model)  # ZeRO-3: gathered, every rank takes part
    if main:
        shutil.rmtree(staging, ignore_errors=True)  # left by a killed earlier attempt
        staging.mkdir(parents=True)
    accelerator.wait_for_everyone()
    save_rank_state(staging, accelerator.process_index, optimizer.state_dict())
    accelerator.wait_for_everyone()
    if main:
        sharding = {"sharded": True, "world_size": accelerator.num_processes}
        _write_weights_and_state(staging, weights, state, best, sharding)
        share_tree(staging)  # the umask's modes (safetensors writes 0600)
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
        _prune(run_dir, keep)
    accelerator.wait_for_everyone()
    return final


def damaged_checkpoint(path: Path, name: str, err: BaseException) -> ValueError:
    """The one-line error of a damaged checkpoint file, with what to do about it."""
    why = " ".join(str(err).split())[:120] or type(err).__name__
    return ValueError(
        f"{path / name} is damaged ({type(err).__name__}: {why}): move {path} out of checkpoints/ to "
        "resume from the checkpoint before it, or start the cell again in a new run_dir"
    )


def read_state(path: Path) -> tuple[dict[str, Any], TrainState]:
    """``state.json`` of a checkpoint and the TrainState it holds (damaged: one line naming it)."""
    try:
        meta = json.loads((path / "state.json").read_text())
        return meta, TrainState(**meta["state"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise damaged_checkpoint(path, "state.json", err) from err


def read_tensors(path: Path, name: str) -> dict[str, torch.Tensor]:
    """A checkpoint's safetensors file (damaged or missing: one line naming it)."""
    try:
        return load_file(str(path / name))
    except Exception as err:  # noqa: BLE001 - safetensors raises its own SafetensorError
        raise damaged_checkpoint(path, name, err) from err


def load_checkpoint(
    path: Path, model: nn.Module, optimizer, rank: int = 0, world: int = 1, sharded: bool = False
) -> tuple[TrainState, dict[str, torch.Tensor] | None]:
    """Restore model and optimizer from an epoch checkpoint; returns the state and the best weights.

    ``sharded``: ``optimizer`` is DeepSpeed's ZeRO optimizer and each rank reads its own partition.
    """
    path = Path(path)
    meta, state = read_state(path)
    was_sharded = bool(meta["optimizer"].get("sharded"))
    if was_sharded != sharded:
        how = {
            True: "with a sharded optimizer (DeepSpeed ZeRO)",
            False: "without sharding (one process or DDP)",
        }
        raise ValueError(
            f"{path} was written {how[was_sharded]}, this run is {how[sharded]}; resume with the same "
            "accelerate configuration or start the cell again in a new run_dir"
        )
    if sharded and meta["optimizer"]["world_size"] != world:
        raise ValueError(
            f"{path} holds optimizer partitions of {meta['optimizer']['world_size']} processes, this run "
            f"has {world}; resume with accelerate.num_processes={meta['optimizer']['world_size']}"
        )
    load_trainable(model, read_tensors(path, "trainable.safetensors"))
    if sharded:
        saved = load_rank_state(path, rank, optimizer.state_dict())
        # DeepSpeed's ZeRO optimizer takes every rank's dict and reads its own (index = its rank)
        optimizer.load_state_dict([saved] * world, load_from_fp32_weights=True)
        return state, _best(path, model)
    names = _param_names(model, optimizer)
    index = {n: i for i, n in names.items()}
    if meta["optimizer"]["order"] != [names[i] for i in sorted(names)]:
        raise ValueError(f"{path}: optimizer parameters differ from the checkpoint's")
    tensors = read_tensors(path, "optimizer.safetensors")
    by_name = dict(model.named_parameters())
    st: dict[int, dict[str, torch.Tensor]] = {}
    for key, t in tensors.items():
        name, _, k = key.rpartition("::")
        st.setdefault(index[name], {})[k] = shard_like(t, by_name[name])  # FSDP: this rank's shard
    sd = optimizer.state_dict()
    groups = []
    for g_old, g_new in zip(sd["param_groups"], meta["optimizer"]["param_groups"], strict=True):
        groups.append({**g_new, "params": g_old["params"]})
    optimizer.load_state_dict({"state": st, "param_groups": groups})
    return state, _best(path, model)


def _best(path: Path, model: nn.Module) -> dict[str, torch.Tensor]:
    """The best epoch's weights: best.safetensors, or the (just loaded) weights when this epoch is best."""
    best_file = path / "best.safetensors"
    return read_tensors(path, best_file.name) if best_file.is_file() else trainable_state(model)
