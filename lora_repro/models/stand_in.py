"""A stand-in: an open causal LM that plays a count-only model (GPT-3 175B) in the paper profile.

``configs/model/gpt3-175b.yaml`` has ``stand_in: null``. With ``model.stand_in=<hub id or directory>``
(or ``model.path=<dir>``) a paper-profile cell loads that model instead, while the cell keeps the
role's name, so its hyperparameters still come from ``configs/hparams/gpt3-175b/...``. The tiny
profile ignores the stand-in (the suite's own tiny GPT-3 architecture plays the role).

Offline facts about the model that plays the role (for |Θ| and the ``--dry-run`` GPU-hour estimate):
:func:`played_config` gives a ``configs/model``-style dict whose ``hf_config`` is the stand-in's,
read from ``model.path``'s or a local stand-in's ``config.json``, from a ``configs/model/*.yaml``
with that ``hub_id`` (facebook/opt-66b), or from the role's ``stand_in_configs`` block.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lora_repro.config import config_dir, load_group_file


def config_value(cfg: Any, key: str, default: Any = None) -> Any:
    """``cfg[key]`` of a dict, DictConfig or object; ``default`` when absent or None."""
    try:
        value = cfg.get(key, default)
    except AttributeError:
        value = getattr(cfg, key, default)
    return default if value is None else value


def _plain(cfg: Any) -> dict[str, Any]:
    from omegaconf import DictConfig, OmegaConf

    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    return dict(cfg)


def causal_lm_types() -> list[str]:
    """The ``model_type`` values the suite maps (lora_repro/models/arch.py) as decoders."""
    from lora_repro.models.arch import SPECS

    return sorted(mt for mt, spec in SPECS.items() if spec.decoder)


def check_causal_lm(model_type: Any, what: str) -> str:
    """``model_type`` if it is a causal LM the suite maps, else one line naming it and the allowed ones."""
    allowed = causal_lm_types()
    if model_type not in allowed:
        raise ValueError(
            f"{what} has model_type {model_type!r}, not a causal LM the suite knows; allowed: {allowed}"
        )
    return str(model_type)


def stand_in_of(model_cfg: Any) -> str | None:
    """The stand-in's hub id or directory (``model.stand_in``), or None."""
    value = config_value(model_cfg, "stand_in")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"model.stand_in={value!r}: give a hub id (facebook/opt-30b) or a directory, or null"
        )
    return value


def _local_hf_config(directory: str, what: str) -> dict[str, Any]:
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{what}={directory!r} has no config.json (expected a save_pretrained directory)"
        )
    fields = json.loads(path.read_text())
    check_causal_lm(fields.get("model_type"), f"{what}={directory!r}")
    return fields


def _model_file_with_hub_id(hub_id: str) -> dict[str, Any] | None:
    for path in sorted((config_dir() / "model").glob("*.yaml")):
        cfg = load_group_file("model", path.stem)
        if cfg.get("hub_id") == hub_id:
            return cfg
    return None


def known_stand_ins(model_cfg: Any) -> list[str]:
    """Hub ids whose architecture is known offline: the role's ``stand_in_configs`` and the hub ids of
    ``configs/model/*.yaml`` decoders."""
    ids = set((config_value(model_cfg, "stand_in_configs", {}) or {}).keys())
    for path in sorted((config_dir() / "model").glob("*.yaml")):
        cfg = load_group_file("model", path.stem)
        if cfg.get("hub_id") and cfg.get("kind") == "decoder":
            ids.add(cfg["hub_id"])
    return sorted(ids)


def stand_in_hf_config(model_cfg: Any) -> dict[str, Any]:
    """The ``hf_config`` (with ``model_type``) of the model that plays the role, offline."""
    path, stand_in = config_value(model_cfg, "path"), stand_in_of(model_cfg)
    if path:
        return _local_hf_config(str(path), "model.path")
    if stand_in is None:
        return dict(config_value(model_cfg, "hf_config", {}))
    if Path(stand_in).is_dir():
        return _local_hf_config(stand_in, "model.stand_in")
    given = (config_value(model_cfg, "stand_in_configs", {}) or {}).get(stand_in)
    if given is not None:
        fields = dict(given)
    else:
        other = _model_file_with_hub_id(stand_in)
        if other is None:
            raise ValueError(
                f"model.stand_in={stand_in!r}: its architecture is not known offline (for |Θ| and the GPU-hour "
                f"estimate); known: {known_stand_ins(model_cfg)}; give model.path=<a save_pretrained dir> or "
                f"add its config.json fields to stand_in_configs in configs/model/{config_value(model_cfg, 'name')}.yaml"
            )
        fields = dict(other["hf_config"])
    check_causal_lm(fields.get("model_type"), f"model.stand_in={stand_in!r}")
    return fields


def played_config(model_cfg: Any, profile: str = "paper") -> dict[str, Any]:
    """The model config of whatever plays ``model_cfg``'s role in ``profile``: the role itself in the
    tiny profile or without a stand-in, else a dict with the stand-in's ``hf_config`` (for meta counts)."""
    plain = _plain(model_cfg)
    if profile == "tiny" or not (plain.get("path") or plain.get("stand_in")):
        return plain
    fields = stand_in_hf_config(plain)
    return {**plain, "hf_config": fields, "family": fields["model_type"], "count_only": False}


def played_by(model_cfg: Any, profile: str = "paper") -> str:
    """Who played the role, for a table header: ``gpt3-175b``, or ``facebook/opt-30b (as gpt3-175b)``."""
    name = str(config_value(model_cfg, "name", "?"))
    if profile == "tiny":
        return f"{name} (the suite's tiny architecture)"
    who = config_value(model_cfg, "path") or stand_in_of(model_cfg)
    return f"{who} (as {name})" if who else name
