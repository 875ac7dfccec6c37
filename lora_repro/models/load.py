"""Load a cell's pretrained model and tokenizer: hub id (paper), tiny cache (tiny), or a local directory.

* ``model.path=<dir>``: any directory written by ``save_pretrained`` (model + tokenizer), in any profile;
* profile ``paper``: ``from_pretrained(model.hub_id, revision=model.revision)``; for a count-only
  role (GPT-3 175B) ``model.stand_in=<hub id or dir>`` (at ``model.stand_in_revision``) loads the
  causal LM that plays it (:mod:`lora_repro.models.stand_in`), whose ``model_type`` must be one the
  suite maps;
* profile ``tiny``: the suite's pretrained tiny model: the caller resolves its directory first
  (:func:`lora_repro.tiny.pretrain.with_tiny_path` pretrains it on first use and sets
  ``model.path``), so model loading knows nothing of the tiny world.

Encoders get ``AutoModelForSequenceClassification`` with the task's ``num_labels`` (STS-B:
``num_labels=1``, ``problem_type="regression"``), decoders ``AutoModelForCausalLM``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from lora_repro.models.stand_in import config_value


@dataclass
class Loaded:
    """A pretrained model, its tokenizer and where they came from."""

    model: nn.Module
    tokenizer: Any
    source: str


def model_source(model_cfg: Any, profile: str, cache_dir: str | None = None) -> str:
    """Where the weights come from: a local dir (``model.path``; the tiny profile's always), or a hub id."""
    path = config_value(model_cfg, "path")
    if path:
        if not Path(path).is_dir():
            raise FileNotFoundError(
                f"model.path={path!r} is not a directory (expected a save_pretrained directory)"
            )
        return str(path)
    if profile == "tiny":
        raise ValueError(
            f"profile tiny: model {config_value(model_cfg, 'name')!r} needs model.path, the tiny model's directory "
            "(lora_repro.tiny.pretrain.with_tiny_path resolves it, pretraining the model on first use)"
        )
    if profile == "paper":
        from lora_repro.models.stand_in import stand_in_of

        stand_in = stand_in_of(model_cfg)
        if stand_in is not None:
            return stand_in
        if config_value(model_cfg, "count_only") or not config_value(model_cfg, "hub_id"):
            raise ValueError(
                f"model {config_value(model_cfg, 'name')!r} has no public weights (count_only); "
                "use it in the tiny profile, give model.stand_in=<hub id of a causal LM> or model.path=<dir>, "
                "or pick an open model"
            )
        return str(model_cfg["hub_id"])
    raise ValueError(f"unknown profile {profile!r}; allowed: tiny, paper")


def check_stand_in(source: str, what: str, **kw: Any) -> None:
    """The model that plays a count-only role must be a causal LM the suite maps (one line otherwise)."""
    from transformers import AutoConfig

    from lora_repro.models.stand_in import check_causal_lm

    try:
        config = AutoConfig.from_pretrained(source, **kw)
    except (OSError, ValueError) as err:
        raise ValueError(
            f"{what}={source!r}: no model config could be read ({str(err).splitlines()[0]})"
        ) from err
    check_causal_lm(getattr(config, "model_type", None), f"{what}={source!r}")


def _from_pretrained(auto_cls, source: str, **kw):
    """``from_pretrained`` that checks what the checkpoint left uninitialised instead of printing
    transformers' load report: only the new task head (``ArchSpec.heads``) may be missing. Extra
    checkpoint tensors (the MLM head of an encoder) are dropped silently; anything else missing
    means the checkpoint does not match the architecture, which is an error, not a warning."""
    import logging

    from lora_repro.models.arch import spec_for

    report = logging.getLogger("transformers.modeling_utils")
    level = report.level
    report.setLevel(logging.ERROR)
    try:
        model, info = auto_cls.from_pretrained(source, output_loading_info=True, **kw)
    finally:
        report.setLevel(level)
    heads = tuple(spec_for(model).heads)
    missing = [
        k for k in info.get("missing_keys", ()) if not any(k == h or k.startswith(h + ".") for h in heads)
    ]
    if missing:
        raise ValueError(
            f"{source}: the checkpoint has no weights for {sorted(missing)[:4]} ({len(missing)} tensors) of "
            f"{type(model).__name__}; only the new task head {list(heads)} may be missing"
        )
    return model


def load_model(
    model_cfg: Any,
    profile: str = "tiny",
    cache_dir: str | None = None,
    num_labels: int | None = None,
    regression: bool = False,
    cls_dropout: float | None = None,
) -> Loaded:
    """The pretrained model (with a fresh classification head for encoders) and its tokenizer."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    source = model_source(model_cfg, profile, cache_dir)
    path = config_value(model_cfg, "path")
    stand_in = None if path or profile != "paper" else config_value(model_cfg, "stand_in")
    is_hub = source == config_value(model_cfg, "hub_id") and not path
    kw: dict[str, Any] = {"revision": config_value(model_cfg, "revision", "main")} if is_hub else {}
    if stand_in is not None and not Path(stand_in).is_dir():
        kw = {"revision": config_value(model_cfg, "stand_in_revision", "main")}
    kind = config_value(model_cfg, "kind", "encoder")
    if kind == "decoder" and (
        stand_in is not None or (path and profile == "paper" and config_value(model_cfg, "count_only"))
    ):
        check_stand_in(source, "model.stand_in" if stand_in is not None else "model.path", **kw)
    if kind == "encoder":
        from transformers import AutoConfig

        extra: dict[str, Any] = {"num_labels": int(num_labels or 2)}
        if regression:
            extra.update(num_labels=1, problem_type="regression")
        config = AutoConfig.from_pretrained(source, **kw, **extra)
        if cls_dropout is not None:
            # set on the config, not as from_pretrained kwargs: a name the config class does not declare
            # (DeBERTa-v2 has no classifier_dropout) would be passed on to the model's __init__ and fail
            config.classifier_dropout = float(cls_dropout)  # RoBERTa's head
            config.cls_dropout = float(cls_dropout)  # DeBERTa-v2's ContextPooler and head
        model = _from_pretrained(AutoModelForSequenceClassification, source, config=config, **kw)
    elif kind == "decoder":
        model = _from_pretrained(AutoModelForCausalLM, source, **kw)
    else:
        raise ValueError(f"unknown model kind {kind!r}; allowed: encoder, decoder")
    tok = AutoTokenizer.from_pretrained(source, **kw)
    if tok.pad_token_id is None:  # GPT-2 has no pad token: pad with EOS (never attended, never a label)
        tok.pad_token = tok.eos_token
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tok.pad_token_id
    return Loaded(model, tok, source)
