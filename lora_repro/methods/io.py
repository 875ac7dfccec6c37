"""Saving and loading what a method trains: ``adapter_config.json`` + ``adapter_model.safetensors``.

Keys follow PEFT's layout (``base_model.model.<module path>.lora_A.weight``, task-head weights as
``base_model.model.classifier...``). When the model carries LoRA alone on separate (unfused)
projections, the config also holds PEFT's LoRA fields, so ``peft.PeftModel.from_pretrained`` loads
the directory; :func:`load_adapter` accepts such PEFT adapters too. Fused q|k|v LoRA (GPT-2's
``c_attn`` with q and v only) has no PEFT equivalent and is written in our format only.

Nothing is unpickled: weights come from safetensors, the config from JSON. The config also stores a
fingerprint of the frozen base model; loading onto a different (for example randomly initialised)
base model is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from lora_repro.atomic import share_tree, temp_dir
from lora_repro.methods.base import (
    applied_methods,
    apply_method,
    head_prefixes,
    is_head_param,
    unchanged_on_error,
)
from lora_repro.methods.lora import LoRAFusedLinear, LoRALinear
from lora_repro.models.arch import spec_for

CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter_model.safetensors"
PEFT_PREFIX = "base_model.model."
FORMAT_VERSION = 1
BASE_FINGERPRINT_ATTR = "lora_repro_base_fingerprint"


class AdapterMismatchError(ValueError):
    """The adapter does not belong to this base model."""


def _to_file_key(name: str) -> str:
    if name.endswith((".lora_A", ".lora_B")):
        name += ".weight"
    return PEFT_PREFIX + name


def _from_file_key(key: str) -> str:
    if key.startswith(PEFT_PREFIX):
        key = key[len(PEFT_PREFIX) :]
    for suffix in (".lora_A.weight", ".lora_B.weight"):
        if key.endswith(suffix):
            key = key[: -len(".weight")]
    return key.replace(".lora_A.default", ".lora_A").replace(".lora_B.default", ".lora_B")


def base_fingerprint(model: nn.Module) -> str:
    """A short hash of the frozen input embedding: tells one base checkpoint from another."""
    emb = spec_for(model).get_embeddings(model).weight
    if emb.device.type == "meta":
        return "meta"
    data = emb.detach().float().cpu().contiguous()
    return hashlib.sha256(data.numpy().tobytes()).hexdigest()[:16]


def _peft_fields(model: nn.Module) -> dict[str, Any] | None:
    """PEFT LoRA config fields when the model's method is representable in PEFT, else None."""
    methods = applied_methods(model)
    if len(methods) != 1 or methods[0]["name"] != "lora":
        return None
    layers = [m for m in model.modules() if isinstance(m, (LoRALinear, LoRAFusedLinear))]
    if not layers or any(isinstance(m, LoRAFusedLinear) for m in layers):
        return None
    spec = spec_for(model)
    opts = methods[0]["options"]
    targets = opts.get("targets", ["q", "v"])
    targets = [t.strip() for t in targets.split(",")] if isinstance(targets, str) else list(targets)
    heads = list(head_prefixes(model, spec))
    return {
        "peft_type": "LORA",
        "task_type": "SEQ_CLS" if heads else ("CAUSAL_LM" if spec.decoder else None),
        "r": layers[0].r,
        "lora_alpha": layers[0].alpha,
        "lora_dropout": float(opts.get("dropout", 0.0)),
        "target_modules": [spec.targets[t] for t in targets],
        "modules_to_save": heads or None,
        "bias": "none",
        "fan_in_fan_out": False,
        "init_lora_weights": True,
        "use_rslora": False,
        "use_dora": False,
        "inference_mode": True,
        "base_model_name_or_path": getattr(model.config, "_name_or_path", None) or None,
    }


def save_adapter(
    model: nn.Module,
    path: str | os.PathLike,
    weights: dict[str, torch.Tensor] | None = None,
    provenance: dict[str, Any] | None = None,
) -> Path:
    """Write what trains (method parameters and a new task head) to ``path`` atomically.

    ``weights``: the trainable tensors by parameter name, when the model's own are not whole (FSDP and
    ZeRO-3 shard them; the trainer passes the gathered ones). ``provenance``: where the adapter came
    from when it was not trained here (``lora-repro import-adapter``), kept as ``lora_repro.source``.
    """
    methods = applied_methods(model)
    if not methods:
        raise ValueError("the model has no adaptation method applied; call apply_method first")
    path = Path(path)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    if weights is None:
        weights = {n: p for n, p in model.named_parameters() if p.requires_grad}
    elif sorted(weights) != sorted(trainable):
        raise ValueError(
            f"save_adapter: the weights given do not match the model's trainable parameters "
            f"(missing {sorted(set(trainable) - set(weights))[:3]}, unexpected {sorted(set(weights) - set(trainable))[:3]})"
        )
    tensors = {_to_file_key(n): weights[n].detach().cpu().contiguous() for n in trainable}
    config: dict[str, Any] = {
        "lora_repro": {
            "format_version": FORMAT_VERSION,
            "methods": methods,
            "model_type": model.config.model_type,
            # a method that trains the embedding (ft) records the base's fingerprint before training
            "base_fingerprint": getattr(model, BASE_FINGERPRINT_ATTR, None) or base_fingerprint(model),
            "parameters": sorted(_from_file_key(k) for k in tensors),
        }
    }
    if provenance:
        config["lora_repro"]["source"] = dict(provenance)
    config.update(_peft_fields(model) or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir(path)
    save_file(tensors, str(tmp / WEIGHTS_NAME), metadata={"format": "pt"})
    (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    share_tree(tmp)  # the umask's modes (safetensors writes 0600)
    path.mkdir(parents=True, exist_ok=True)
    for name in (WEIGHTS_NAME, CONFIG_NAME):  # weights first: a config never points at missing weights
        os.replace(tmp / name, path / name)
    tmp.rmdir()
    return path


def _method_from_peft(cfg: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    if cfg.get("peft_type") != "LORA":
        raise ValueError(
            f"unsupported adapter type {cfg.get('peft_type')!r}; allowed: lora-repro adapters, PEFT LORA"
        )
    for key, ok in (("use_dora", False), ("use_rslora", False), ("fan_in_fan_out", False), ("bias", "none")):
        if cfg.get(key, ok) != ok:
            raise ValueError(
                f"PEFT adapter uses {key}={cfg[key]!r}, which the paper's LoRA does not; allowed: {ok!r}"
            )
    for key in ("rank_pattern", "alpha_pattern"):
        if cfg.get(key):
            raise ValueError(f"PEFT adapter uses {key}; per-module ranks are not supported")
    spec = spec_for(model)
    wanted = cfg.get("target_modules") or []
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    targets = []
    for t in wanted:
        hits = [name for name, p in spec.targets.items() if p == t or p.endswith("." + t)]
        if len(hits) != 1:
            raise ValueError(
                f"PEFT target module {t!r} does not name one of {spec.family}'s projections {spec.targets}"
            )
        targets.append(hits[0])
    return {
        "name": "lora",
        "options": {
            "r": int(cfg["r"]),
            "alpha": cfg["lora_alpha"],
            "dropout": cfg.get("lora_dropout", 0.0),
            "targets": targets,
        },
    }


def check_base_model(model: nn.Module, path: str | os.PathLike) -> None:
    """Refuse an adapter whose recorded base fingerprint differs from ``model``'s (none recorded: pass)."""
    cfg_file = Path(path) / CONFIG_NAME
    ours = (read_config(cfg_file).get("lora_repro") or {}) if cfg_file.is_file() else {}
    fp = ours.get("base_fingerprint")
    if fp not in (None, "meta") and fp != base_fingerprint(model):
        raise AdapterMismatchError(
            f"{path}: the base model's weights differ from the ones this adapter was trained on "
            "(fingerprint mismatch): load the pretrained base model first, never a random one"
        )


def load_trainable(
    model: nn.Module,
    path: str | os.PathLike,
    require: str = "all",
    skip_heads: bool = False,
    check_base: bool = True,
) -> int:
    """Copy an adapter directory's tensors into ``model``'s parameters (the method already injected).

    The one place that maps file keys to parameter names and checks shapes; :func:`load_adapter` and
    the MNLI warm start (train/setup.py) both load through it. ``require``: which of the model's
    trainable parameters the file must hold: ``all``, ``lora`` (a PEFT adapter may leave a new head
    out), or ``exact`` (the file holds exactly the trainable parameters, no more). ``skip_heads``:
    leave the task head out on both sides (a warm start keeps the new task's own head). Returns the
    number of tensors loaded.
    """
    if require not in ("all", "lora", "exact"):
        raise ValueError(f"require={require!r}; allowed: all, lora, exact")
    if check_base:
        check_base_model(model, path)
    w_file = Path(path) / WEIGHTS_NAME
    if not w_file.is_file():
        raise FileNotFoundError(
            f"{w_file} not found: an adapter directory holds {CONFIG_NAME} and {WEIGHTS_NAME}"
        )
    state = {_from_file_key(k): v for k, v in read_weights(w_file).items()}
    params = dict(model.named_parameters())
    heads = head_prefixes(model) if skip_heads else ()
    if skip_heads:
        state = {k: v for k, v in state.items() if not is_head_param(k, heads)}
        params = {n: p for n, p in params.items() if not is_head_param(n, heads)}
    expected = {n for n, p in params.items() if p.requires_grad}
    unexpected = sorted(set(state) - (expected if require == "exact" else set(params)))
    if unexpected:
        where = "among the model's trainable tensors" if require == "exact" else "in the model"
        raise AdapterMismatchError(f"{path}: adapter tensors not found {where}: {unexpected[:5]}")
    lacking = sorted(expected - set(state))
    if require == "lora":
        lacking = [n for n in lacking if ".lora_" in n]
    if lacking:
        raise AdapterMismatchError(f"{path}: adapter file lacks trained tensors: {lacking[:5]}")
    for name, tensor in state.items():  # every check before the first write: a failed load changes nothing
        p = params[name]
        if p.shape != tensor.shape:
            raise AdapterMismatchError(
                f"{w_file}: {name}: adapter shape {tuple(tensor.shape)} != model {tuple(p.shape)}"
            )
    with torch.no_grad():
        for name, tensor in state.items():
            params[name].copy_(tensor.to(params[name].dtype))
    return len(state)


def read_weights(w_file: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; a damaged (truncated, not safetensors) file in one line."""
    try:
        return load_file(str(w_file))
    except Exception as err:  # noqa: BLE001 - safetensors raises its own SafetensorError
        raise ValueError(
            f"{w_file} is damaged ({type(err).__name__}: {' '.join(str(err).split())[:120]}): "
            "save or train the adapter again"
        ) from err


def read_config(cfg_file: Path) -> dict[str, Any]:
    """``adapter_config.json`` as a dict; a damaged file in one line naming it."""
    try:
        cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{cfg_file} is damaged (not JSON: {err}): save or train the adapter again") from err
    if not isinstance(cfg, dict):
        raise ValueError(f"{cfg_file} is damaged (not a JSON object): save or train the adapter again")
    return cfg


def load_adapter(model: nn.Module, path: str | os.PathLike, check_base: bool = True) -> nn.Module:
    """Load an adapter saved by :func:`save_adapter` (or a PEFT LoRA adapter) into ``model``.

    Injects the method described by ``adapter_config.json`` unless the model already has it, then
    loads every saved tensor; missing or unexpected tensors are an error. Any error (a damaged file,
    a shape mismatch) leaves the model exactly as it was and names the file.
    """
    path = Path(path)
    cfg_file, w_file = path / CONFIG_NAME, path / WEIGHTS_NAME
    for f in (cfg_file, w_file):
        if not f.is_file():
            raise FileNotFoundError(
                f"{f} not found: an adapter directory holds {CONFIG_NAME} and {WEIGHTS_NAME}"
            )
    cfg = read_config(cfg_file)
    ours = cfg.get("lora_repro")
    if ours:
        if ours.get("model_type") != model.config.model_type:
            raise AdapterMismatchError(
                f"adapter was trained on model_type {ours.get('model_type')!r}, model is {model.config.model_type!r}"
            )
        if check_base:
            check_base_model(model, path)
        methods = ours["methods"]
    else:
        methods = [_method_from_peft(cfg, model)]
    have = applied_methods(model)
    if have and [m["name"] for m in have] != [m["name"] for m in methods]:
        raise AdapterMismatchError(f"model has method(s) {have}, adapter holds {methods}")
    with unchanged_on_error(model):
        if not have:
            for m in methods:
                try:
                    apply_method(model, m["name"], **m["options"])
                except (ValueError, TypeError) as err:
                    raise AdapterMismatchError(f"{cfg_file}: {err}") from err
        load_trainable(model, path, require="all" if ours else "lora", check_base=False)
    return model
