"""One validation layer for every option, run before any work starts.

Types (an integer option given ``1.5`` or ``"abc"`` is an error naming the key, the value and the
allowed type), ranges (``r >= 1``, ``alpha > 0``, ``0 <= dropout < 1``, lengths ``>= 0``, steps
``>= 1``, integer seeds) and unknown keys (with the allowed ones listed). The same rules serve the
commands (``train``, ``params``, ``data``, ``pretrain``, ``table``: keys such as ``method.r``) and the
Python API (:func:`lora_repro.apply_method`: options such as ``r``). Every error is an
:class:`OptionError`, a ``ValueError`` whose message is one line.

Nothing here imports torch, the methods or the trainer: the method options allowed are the keys of
``configs/method/<name>.yaml`` (commands) or the registry's (the API).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any


class OptionError(ValueError):
    """A bad option value or key: the message names the key, the value and what is allowed."""


@dataclass(frozen=True)
class Rule:
    """What one option accepts. ``kind``: int | number | bool | choice | names (a str or list of str)."""

    kind: str
    low: float | None = None
    high: float | None = None
    high_open: bool = False
    low_open: bool = False
    nullable: bool = False
    choices: tuple[Any, ...] = ()

    def describe(self) -> str:
        """``a positive integer``, ``a number in [0, 1)``, ``null or ...``: what the rule allows."""
        if self.kind == "int":
            text = {1: "a positive integer (>= 1)", 0: "a non-negative integer (>= 0)"}.get(
                self.low, "an integer" if self.low is None else f"an integer >= {self.low}"
            )
        elif self.kind == "number":
            text = "a number"
            if self.low is not None and self.high is not None:
                text += f" in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
            elif self.low is not None:
                text += f" {'>' if self.low_open else '>='} {self.low:g}"
        elif self.kind == "bool":
            text = "true or false"
        elif self.kind == "choice":
            text = f"one of {list(self.choices)}"
        else:
            text = "a name or a list of names"
        return f"null or {text}" if self.nullable else text


INT = Rule("int")
POSITIVE_INT = Rule("int", low=1)
COUNT = Rule("int", low=0)
POSITIVE = Rule("number", low=0, low_open=True)
NON_NEGATIVE = Rule("number", low=0)
FRACTION = Rule("number", low=0, high=1, high_open=True)
BOOL = Rule("bool")
FINITE = Rule("number")


def optional(rule: Rule) -> Rule:
    return replace(rule, nullable=True)


def _type_ok(value: Any, rule: Rule) -> bool:
    if rule.kind == "int":
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if rule.kind == "number":
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if rule.kind == "bool":
        return isinstance(value, bool)
    if rule.kind == "names":
        return isinstance(value, str) or (
            isinstance(value, Iterable)
            and not isinstance(value, Mapping)
            and all(isinstance(v, str) for v in value)
        )
    return True


def _range_ok(value: Any, rule: Rule) -> bool:
    if rule.kind == "choice":
        return value in rule.choices
    if rule.kind not in ("int", "number"):
        return True
    if not math.isfinite(float(value)):
        return False
    if rule.low is not None and not (value > rule.low if rule.low_open else value >= rule.low):
        return False
    return rule.high is None or (value < rule.high if rule.high_open else value <= rule.high)


def check_value(label: str, value: Any, rule: Rule) -> Any:
    """``value`` when ``rule`` allows it, else :class:`OptionError` naming ``label`` and the value."""
    if value is None and rule.nullable:
        return value
    if value is None or not _type_ok(value, rule):
        raise OptionError(f"{label} must be {rule.describe()}, got {value!r} (a {type(value).__name__})")
    if not _range_ok(value, rule):
        raise OptionError(f"{label} must be {rule.describe()}, got {value!r}")
    return value


# the options of every method, by name (the registry and configs/method/*.yaml say which a method takes)
METHOD_RULES: dict[str, Rule] = {
    "r": POSITIVE_INT,
    "alpha": POSITIVE,
    "dropout": FRACTION,
    "targets": Rule("names"),
    "init_std": POSITIVE,
    "l_p": COUNT,
    "l_i": COUNT,
    "k": POSITIVE_INT,
    "drop": COUNT,
    "shots_per_class": POSITIVE_INT,  # method=fewshot
    "demo_seed": INT,
}
# how a method's error names an option (the adapters' r is their bottleneck width)
METHOD_LABELS = {"adapter": {"r": "bottleneck r"}}


def check_method_options(
    name: str, options: Mapping[str, Any], allowed: Iterable[str], where: str | None = None
) -> None:
    """Unknown keys and bad values of method ``name``'s options.

    ``where``: the prefix of a key in messages (``"method."`` for commands); None labels them
    ``<method>: <option>`` as the Python API does."""
    allowed = list(allowed)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        if where is None:
            raise OptionError(f"method {name!r} got unknown option(s) {unknown}; allowed: {allowed}")
        keys = [f"{where}{k}" for k in unknown]
        raise OptionError(
            f"unknown key(s) {keys} for method {name}; allowed: {[f'{where}{k}' for k in allowed]}"
        )
    labels = next((v for k, v in METHOD_LABELS.items() if name.startswith(k)), {})
    for key, value in options.items():
        rule = METHOD_RULES.get(key)
        if rule is not None:
            label = f"{where}{key}" if where is not None else f"{name}: {labels.get(key, key)}"
            check_value(label, value, rule)


# every option of a cell (configs/config.yaml) that a number or a flag: dotted key -> rule
CELL_RULES: dict[str, Rule] = {
    "seed": INT,
    "train.epochs": COUNT,
    "train.max_steps": optional(POSITIVE_INT),
    "train.batch_size": POSITIVE_INT,
    "train.grad_accum": POSITIVE_INT,
    "train.lr": NON_NEGATIVE,
    "train.lr_scale": NON_NEGATIVE,
    "train.weight_decay": NON_NEGATIVE,
    "train.adam_eps": POSITIVE,
    "train.warmup_ratio": optional(Rule("number", low=0, high=1)),
    "train.warmup_steps": optional(COUNT),
    "train.warmup_tokens": optional(COUNT),
    "train.max_grad_norm": optional(POSITIVE),
    "train.label_smoothing": FRACTION,
    "train.max_length": POSITIVE_INT,
    "train.cls_dropout": optional(FRACTION),
    "train.mixed_precision": Rule("choice", choices=("auto", "no", "bf16", "fp16")),
    "train.max_train_examples": optional(POSITIVE_INT),
    "train.num_threads": optional(POSITIVE_INT),
    "eval.batch_size": POSITIVE_INT,
    "eval.max_validation_examples": optional(POSITIVE_INT),
    "eval.max_test_examples": optional(POSITIVE_INT),
    "eval.decoder_labels": Rule("choice", choices=("likelihood", "generate")),
    "generation.beam_size": POSITIVE_INT,
    "generation.length_penalty": FINITE,
    "generation.no_repeat_ngram_size": COUNT,
    "generation.max_new_tokens": POSITIVE_INT,
    "generation.batch_size": POSITIVE_INT,
    "checkpoint.every_epoch": BOOL,
    "checkpoint.keep": POSITIVE_INT,
    "checkpoint.keep_after_done": BOOL,
    "accelerate.num_processes": POSITIVE_INT,
    "accelerate.cpu": BOOL,
    "logger.log_every": POSITIVE_INT,
}
# the task options every task config may have (its generator's seed and the tiny split sizes)
TASK_RULES: dict[str, Rule] = {
    "task.seed": INT,
    "task.tiny.n_train": COUNT,
    "task.tiny.n_validation": COUNT,
    "task.tiny.n_test": COUNT,
    "task.text_format": optional(Rule("choice", choices=("hub", "reference"))),  # E2E, WebNLG, DART
}
SECTIONS = ("train", "eval", "generation", "checkpoint", "accelerate")


def _get(tree: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def check_tree(tree: Mapping[str, Any], rules: Mapping[str, Rule]) -> None:
    """Check every key of ``rules`` present in ``tree`` (a plain, resolved config)."""
    for key, rule in rules.items():
        present, value = _get(tree, key)
        if present:
            check_value(key, value, rule)


def check_known(section: str, given: Iterable[str], allowed: Iterable[str]) -> None:
    """Keys of ``section`` that the config does not define: one line listing the allowed ones."""
    allowed = sorted(allowed)
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise OptionError(
            f"unknown key(s) {[f'{section}.{k}' for k in unknown]}; allowed: {[f'{section}.{k}' for k in allowed]}"
        )


def check_cell(tree: Mapping[str, Any], defaults: Mapping[str, Any], method_keys: Iterable[str]) -> None:
    """A cell's resolved config: values of every section, the method's options, no unknown keys.

    ``defaults``: configs/config.yaml as a dict (its sections list the allowed keys);
    ``method_keys``: the keys of configs/method/<name>.yaml."""
    for section in SECTIONS:
        if isinstance(tree.get(section), Mapping) and isinstance(defaults.get(section), Mapping):
            check_known(section, tree[section], defaults[section])
    check_tree(tree, CELL_RULES)
    check_tree(tree, TASK_RULES)
    method = dict(tree.get("method") or {})
    name = str(method.pop("name", "?"))
    check_method_options(name, method, [k for k in method_keys if k != "name"], where="method.")
    train = tree.get("train") or {}
    if name == "fewshot" and (train.get("epochs") != 0 or train.get("max_steps") is not None):
        given = f"train.epochs={train.get('epochs')!r}, train.max_steps={train.get('max_steps')!r}"
        raise OptionError(
            f"method=fewshot trains nothing (an evaluation mode): give train.epochs=0, got {given}"
        )


def check_own(command: str, values: Mapping[str, Any], rules: Mapping[str, Rule]) -> None:
    """A command's own ``key=value`` arguments (``n=3``, ``steps=100``) against their rules."""
    for key, rule in rules.items():
        if key in values:
            check_value(key, values[key], rule)


def _override_key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~").split("@")[0]


def compose_checked(overrides: Iterable[str], config_name: str, groups: Iterable[str] = ()) -> Any:
    """Hydra's compose, its errors as one :class:`OptionError` line naming the allowed keys or options.

    ``groups``: the config groups whose options an unknown choice lists (``model``, ``method`` ...)."""
    from hydra.errors import HydraException
    from omegaconf import DictConfig, OmegaConf

    from lora_repro.config import compose, group_options

    overrides = list(overrides)
    try:
        return compose(overrides, config_name=config_name)
    except HydraException as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        msg = first
        if first.startswith("Could not override '"):
            key = first.split("'")[1]
            parent, _, _ = key.rpartition(".")
            try:
                rest = [o for o in overrides if _override_key(o) != key]
                node = compose(rest, config_name=config_name)
                node = OmegaConf.select(node, parent) if parent else node
            except HydraException:
                node = None
            msg = f"unknown key {key!r}"
            if isinstance(node, DictConfig):
                msg += f"; allowed: {[f'{parent}.{k}' if parent else k for k in node]}"
        for group in groups:
            if f"'{group}/" in first:
                msg += f"; allowed {group}: {group_options(group)}"
        raise OptionError(f"{msg} (overrides: {' '.join(overrides)})") from err
