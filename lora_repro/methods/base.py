"""The method registry and what every method shares: freezing, head detection, bookkeeping.

A method is a function ``inject(model, spec, **options) -> list[nn.Parameter]`` registered under a
name. It adds its modules to the model and returns the parameters it trains. :func:`apply_method`
then freezes everything else, except a task head that the pretrained model did not have (a
sequence-classification head), and records the method and its options on the model so that
:func:`lora_repro.save_adapter` can write them to ``adapter_config.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from torch import nn

from lora_repro.models.arch import ArchSpec, spec_for
from lora_repro.validate import check_method_options

InjectFn = Callable[..., list[nn.Parameter]]

METHODS: dict[str, InjectFn] = {}
METHOD_OPTIONS: dict[str, tuple[str, ...]] = {}
RECORD_ATTR = "lora_repro_methods"


def register_method(name: str, options: Iterable[str]) -> Callable[[InjectFn], InjectFn]:
    """Register ``inject`` under ``name``; ``options`` are the keyword options it accepts."""

    def deco(fn: InjectFn) -> InjectFn:
        METHODS[name] = fn
        METHOD_OPTIONS[name] = tuple(options)
        return fn

    return deco


def head_prefixes(model: nn.Module, spec: ArchSpec | None = None) -> tuple[str, ...]:
    """Dotted prefixes of the task-head modules that exist in this model (not in the pretrained one)."""
    try:
        spec = spec or spec_for(model)
    except ValueError:
        return ()
    names = {n for n, _ in model.named_children()}
    return tuple(h for h in spec.heads if h.split(".")[0] in names)


def is_head_param(name: str, heads: tuple[str, ...]) -> bool:
    return any(name == h or name.startswith(h + ".") for h in heads)


def applied_methods(model: nn.Module) -> list[dict[str, Any]]:
    """The methods applied to ``model`` so far, as ``{"name": ..., "options": {...}}`` records."""
    return list(getattr(model, RECORD_ATTR, []))


def apply_method(model: nn.Module, name: str, **options: Any) -> nn.Module:
    """Inject adaptation method ``name`` into ``model`` in place, freeze the rest, return ``model``.

    Options are checked first (lora_repro.validate: types, ranges, unknown keys); any error leaves
    the model exactly as it was (its modules, hooks, attributes and requires_grad flags)."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; allowed: {sorted(METHODS)}")
    options = {k: _plain(v) for k, v in options.items()}
    check_method_options(name, options, METHOD_OPTIONS[name])
    if applied_methods(model):
        raise ValueError(
            f"model already has method(s) {[m['name'] for m in applied_methods(model)]}; "
            "apply one method per model (combinations such as lora_pe are methods of their own)"
        )
    spec = spec_for(model)
    with unchanged_on_error(model):
        trainable = METHODS[name](model, spec, **options)
        keep = {id(p) for p in trainable}
        heads = head_prefixes(model, spec)
        for pname, p in model.named_parameters():
            p.requires_grad_(id(p) in keep or is_head_param(pname, heads))
        setattr(model, RECORD_ATTR, [{"name": name, "options": options}])
    return model


def _module_state(module: nn.Module) -> tuple[dict[str, Any], dict[str, Any]]:
    """A module's attributes and shallow copies of its container attributes (submodules, hooks ...)."""
    attrs = dict(module.__dict__)
    copies = {k: v.copy() for k, v in attrs.items() if isinstance(v, dict | set | list)}
    return attrs, copies


@contextmanager
def unchanged_on_error(model: nn.Module) -> Iterator[None]:
    """Undo, when the block raises, every change to ``model``'s module tree, hooks, attributes and
    requires_grad flags (weights are not copied: the block must check before it writes any)."""
    states = {id(m): (m, _module_state(m)) for m in model.modules()}
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        yield
    except BaseException:
        for module, (attrs, copies) in states.values():
            for key in [k for k in module.__dict__ if k not in attrs]:
                del module.__dict__[key]
            for key, value in attrs.items():
                if key in copies:  # the same container object, its old contents
                    value.clear()
                    if isinstance(value, list):
                        value.extend(copies[key])
                    else:
                        value.update(copies[key])
                module.__dict__[key] = value
        for p, flag in flags:
            p.requires_grad_(flag)
        raise


def _plain(value: Any) -> Any:
    """OmegaConf containers and tuples to plain Python (for JSON)."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(value, (DictConfig, ListConfig)):
            return OmegaConf.to_container(value, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    if isinstance(value, tuple):
        return list(value)
    return value


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Parameter counts: ``adapter`` (the paper's |Θ|: what trains, without a new task head),
    ``head`` (the new task head), ``trainable`` (everything with requires_grad, PEFT's count) and
    ``total`` (every parameter of the model, shared ones once)."""
    heads = head_prefixes(model)
    adapter = head = trainable = total = 0
    for name, p in model.named_parameters():
        n = p.numel()
        total += n
        if p.requires_grad:
            trainable += n
            if is_head_param(name, heads):
                head += n
            else:
                adapter += n
    return {"adapter": adapter, "head": head, "trainable": trainable, "total": total}
