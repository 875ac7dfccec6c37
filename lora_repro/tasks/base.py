"""The Task interface and the task registry (docs/CONTRACTS.md).

A task is a :class:`Task` subclass registered under a name with :func:`register_task`; it owns where
its dataset comes from, its schema and formatting, its grouping of references for evaluation, the
metadata its metric takes (``meta_args``), how a decoder's generated label is read back
(``parse_generated_label``) and the hub's sizes for the GPU-hour estimate (``hub_sizes``).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from datasets import Dataset, Features

from lora_repro.tasks.schemas import check_schema
from lora_repro.tasks.sources import (
    HubSpec,
    cached_tiny,
    default_cache_dir,
    generator_version,
    load_hub,
    load_local,
    quiet,
)
from lora_repro.tiny.synthetic.world import rng_for

ROLES = ("train", "validation", "test")
SOURCE_HINT = "task.source needs the hub schema as save_to_disk output, parquet, UTF-8 CSV or JSON lines"
FAMILIES = ("encoder", "decoder")
PROFILES = ("tiny", "paper")
FORMAT_VERSION = "1"


@dataclass(frozen=True)
class HubSizes:
    """The hub dataset's sizes, as ``lora_repro.grid.estimate`` uses them for a GPU-hour estimate."""

    n_train: int  # training examples
    n_val: int  # validation examples
    tokens: int  # typical tokens per formatted example
    default_epochs: int  # epochs when the cell's config names none
    gen_len: int = 0  # generated tokens per test input (beam search), 0 when not estimated
    n_test_inputs: int = 0  # distinct test inputs that are generated for


class Task:
    """One task. Subclasses set the class attributes and implement ``format`` (and ``generate``)."""

    kind: ClassVar[str] = "generation"
    label_names: ClassVar[list[str] | None] = None
    metric: ClassVar[str] = ""
    select_metric: ClassVar[tuple[str, str]] = ("", "max")
    hub: ClassVar[HubSpec]
    features: ClassVar[Features]
    splits: dict[str, str]  # role -> hub split
    hub_splits: ClassVar[list[str]]  # every split of the hub dataset, generated in the tiny profile
    multi_reference: ClassVar[bool] = False
    meta_args: ClassVar[dict[str, str]] = {}  # eval-group meta key -> keyword of metrics.score
    hub_sizes: ClassVar[HubSizes | None] = None  # None: no GPU-hour estimate for this task

    def __init__(self, name: str, profile: str = "tiny", source: str | None = None, **options: Any):
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; allowed: {list(PROFILES)}")
        self.name, self.profile, self.source = name, profile, source
        self.options = options
        self.seed = int(options.get("seed", 0))
        self.cache_dir = Path(options["cache_dir"]) if options.get("cache_dir") else default_cache_dir()
        self.tiny_sizes = dict(options.get("tiny") or {})
        self.splits = dict(getattr(type(self), "splits", {}))

    # ----------------------------------------------------------------- interface
    @property
    def num_labels(self) -> int | None:
        if self.kind == "classification":
            return len(self.label_names or [])
        return 1 if self.kind == "regression" else None

    def resolve_split(self, split: str) -> str:
        """A role (train/validation/test) or a hub split name -> the hub split name."""
        if split in self.splits:
            return self.splits[split]
        if split in self.hub_splits:
            return split
        raise ValueError(
            f"task {self.name}: unknown split {split!r}; allowed: {sorted({*ROLES, *self.hub_splits})}"
        )

    def load(self, role: str) -> Dataset:
        """A split (role or hub split name) as a ``datasets.Dataset`` in the hub schema, schema-checked."""
        split = self.resolve_split(role)
        with quiet():
            return self.post_load(self.load_split(split), split)

    def load_split(self, split: str) -> Dataset:
        """The raw hub split from the hub, ``source`` or the generator, schema-checked."""
        if self.source:
            where = f"task {self.name} source {self.source!r} split {split!r}"
            ds = self._load_source(split, where)
        elif self.profile == "paper":
            ds = load_hub(self.hub, split, self.cache_dir)
            where = f"task {self.name} hub {self.hub.repo!r} split {split!r}"
        else:
            ds = self._tiny(split)
            where = f"task {self.name} tiny split {split!r}"
        ds = self.normalise(ds)
        check_schema(ds.features, self.features, where)
        return ds

    def _load_source(self, split: str, where: str) -> Dataset:
        """A split of ``task.source``; damaged files (unreadable, no rows, empty values) in one line."""
        try:
            with _quiet_datasets():  # its builders also log the error as a multi-line traceback
                ds = load_local(self.source, split, self.cache_dir, self.features)
        except (FileNotFoundError, ValueError) as err:
            if "task.source" in str(err):
                raise
            raise ValueError(f"{where}: cannot read it ({_reason(err)}); {SOURCE_HINT}") from err
        except Exception as err:  # noqa: BLE001 - datasets' builders raise their own error types
            raise ValueError(f"{where}: cannot read it ({_reason(err)}); {SOURCE_HINT}") from err
        if len(ds) == 0:
            raise ValueError(f"{where}: the split has no rows; {SOURCE_HINT}")
        for column, feature in ds.features.items():
            if getattr(feature, "dtype", None) == "string":
                empty = next((i for i, v in enumerate(ds[column]) if v is None), None)
                if empty is not None:
                    raise ValueError(
                        f"{where}: row {empty} has no {column!r} (an empty value); fill it in or drop the row"
                    )
        return ds

    def normalise(self, ds: Dataset) -> Dataset:
        """Undo known type drift of faithful copies before the schema check (e.g. CSV ids read as ints)."""
        return ds

    def _tiny(self, split: str) -> Dataset:
        n = self.tiny_size(split)
        family = self.data_name
        key = f"{family}-{split}-n{n}-s{self.seed}-{generator_version()}"
        return cached_tiny(
            key,
            lambda: Dataset.from_list(self.generate(split, n, self.seed), features=self.features),
            self.cache_dir,
        )

    def tiny_size(self, split: str) -> int:
        """Rows of ``split`` in the tiny profile, from the task config's ``tiny:`` block."""
        if split == "train":
            key = "n_train"
        elif split.startswith("test"):
            key = "n_test"
        else:
            key = "n_validation"
        if key not in self.tiny_sizes:
            raise ValueError(f"task {self.name}: configs/task/{self.name}.yaml has no tiny.{key}")
        return int(self.tiny_sizes[key])

    @property
    def data_name(self) -> str:
        """The dataset this task reads (mnli_1k reads mnli)."""
        return self.name

    def generate(self, split: str, n: int, seed: int) -> list[dict]:
        """``n`` tiny rows of hub split ``split`` in the hub schema (deterministic in the seed)."""
        raise NotImplementedError

    def rng(self, split: str, seed: int):
        return rng_for(self.data_name, split, seed)

    def post_load(self, ds: Dataset, split: str) -> Dataset:
        """Task-specific row selection after loading (e.g. WebNLG's test file, MNLI-n subsets)."""
        return ds

    def format(self, row: dict, family: str = "encoder") -> dict:
        raise NotImplementedError

    def examples(self, ds: Dataset, family: str = "decoder") -> list[dict]:
        """Formatted training examples: one per (input, reference) pair (WebNLG/DART rows hold several)."""
        out = []
        for row in ds:
            ex = self.format(row, family)
            refs = ex.get("references")
            if self.multi_reference and refs:
                out += [{**ex, "target": " " + r} for r in refs]
            else:
                out.append(ex)
        return out

    def eval_groups(self, ds: Dataset, family: str = "decoder") -> list[dict]:
        """One entry per distinct input with all its references (generation tasks)."""
        raise ValueError(f"task {self.name} is a {self.kind} task: it has no reference groups")

    def metric_kwargs(self, groups: list[dict]) -> dict[str, list]:
        """The per-input metadata of ``groups`` (their ``meta``) that the task's metric takes, by keyword."""
        return meta_kwargs(self.metric, self.meta_args, groups)

    def parse_generated_label(self, text: str) -> int | float:
        """The label a decoder's generated continuation names (GPT-3 MNLI): regression -> its first
        number (0.0 when there is none); classification -> the class id of its first word (-1 if none)."""
        if self.kind == "regression":
            try:
                return float(text.split()[0])
            except (ValueError, IndexError):
                return 0.0
        if self.kind != "classification":
            raise ValueError(f"task {self.name} is a {self.kind} task: its outputs are text, not labels")
        index = {n: i for i, n in enumerate(self.label_names or [])}
        return index.get(text.strip().split(" ")[0] if text.strip() else "", -1)

    # ----------------------------------------------------------------- tokenisation
    def tokenize(self, ds: Dataset, tokenizer, family: str, max_length: int) -> Dataset:
        """Tokenised training examples, cached by datasets fingerprint (see docs/tasks.md).

        encoder: ``input_ids``, ``attention_mask``, ``labels`` (class id or float);
        decoder: ``input_ids`` = x + [bos] + y + [eos], ``labels`` = -100 on x and [bos] (loss on y + eos),
        truncated from the left of x so that y survives.
        """
        if family not in FAMILIES:
            raise ValueError(f"unknown model family {family!r}; allowed: {list(FAMILIES)}")
        tok_hash = tokenizer_hash(tokenizer)
        fp = hashlib.sha256(
            f"{ds._fingerprint}:{self.name}:{family}:{max_length}:{tok_hash}:{FORMAT_VERSION}".encode()
        ).hexdigest()[:16]
        task = self

        def encode(batch: dict) -> dict:
            rows = [dict(zip(batch, vals, strict=True)) for vals in zip(*batch.values(), strict=True)]
            out: dict[str, list] = {"input_ids": [], "attention_mask": [], "labels": []}
            for row in rows:
                for ex in task.examples([row], family):
                    ids, labels = encode_example(ex, tokenizer, family, max_length)
                    out["input_ids"].append(ids)
                    out["attention_mask"].append([1] * len(ids))
                    out["labels"].append(labels)
            return out

        out_dir = self.cache_dir / "tokenized"
        out_dir.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {
            "new_fingerprint": fp,
            "cache_file_name": str(out_dir / f"{self.name}-{fp}.arrow"),
        }
        return ds.map(
            encode, batched=True, remove_columns=ds.column_names, desc=f"tokenize {self.name}", **kwargs
        )


def meta_kwargs(metric: str, meta_args: dict[str, str], groups: list[dict]) -> dict[str, list]:
    """``{keyword: [meta[key] per group]}`` for the ``meta_args`` keys in the groups that ``metric`` takes."""
    from lora_repro.metrics import METRICS

    fn = METRICS.get(metric)
    accepted = set(inspect.signature(fn).parameters) if fn else set()
    kw: dict[str, list] = {}
    for key, arg in meta_args.items():
        if arg in accepted and groups and key in (groups[0].get("meta") or {}):
            kw[arg] = [g["meta"][key] for g in groups]
    return kw


# ----------------------------------------------------------------- registry
TASK_CLASSES: dict[str, type[Task]] = {}
TASKS: list[str] = []  # the registered names in registration order (the same list object throughout)
TaskT = TypeVar("TaskT", bound=type[Task])


def register_task(name: str) -> Callable[[TaskT], TaskT]:
    """Register a :class:`Task` subclass under ``name`` (its options: ``configs/task/<name>.yaml``).

    A name is registered once: a second registration raises ``ValueError``."""

    def deco(cls: TaskT) -> TaskT:
        if not (isinstance(cls, type) and issubclass(cls, Task)):
            raise TypeError(f"register_task({name!r}) needs a Task subclass, got {cls!r}")
        if name in TASK_CLASSES:
            old = TASK_CLASSES[name]
            raise ValueError(
                f"task {name!r} is already registered ({old.__module__}.{old.__qualname__}); "
                "pick another name"
            )
        TASK_CLASSES[name] = cls
        TASKS.append(name)
        return cls

    return deco


def unregister_task(name: str) -> type[Task]:
    """Remove ``name`` from the registry and return its class (tests registering a fixture task)."""
    cls = task_class(name)
    del TASK_CLASSES[name]
    TASKS.remove(name)
    return cls


def task_class(name: str) -> type[Task]:
    """The class registered under ``name``; ``ValueError`` naming the registered ones otherwise."""
    if name not in TASK_CLASSES:
        raise ValueError(f"unknown task {name!r}; allowed: {TASKS}")
    return TASK_CLASSES[name]


def generation_example(text: str, target: str | None, references: list[str] | None = None) -> dict:
    """A generation task's formatted example: the prompt, the continuation to learn (as given, leading
    space included), and the references to score against when the task has several."""
    ex = {"text": text, "text_pair": None, "target": target, "label": None}
    if references is not None:
        ex["references"] = references
    return ex


def tokenizer_hash(tokenizer) -> str:
    """Hash of what a tokenizer produces (vocab, merges, normaliser...), ignoring its truncation/padding state."""
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    spec.pop("truncation", None)
    spec.pop("padding", None)
    special = [tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id]
    return hashlib.sha256(json.dumps([spec, special], sort_keys=True).encode()).hexdigest()[:12]


def encode_example(ex: dict, tokenizer, family: str, max_length: int) -> tuple[list[int], Any]:
    """Token ids and labels of one formatted example (the rule ``Task.tokenize`` applies)."""
    if family == "encoder":
        enc = tokenizer(ex["text"], ex.get("text_pair"), truncation=True, max_length=max_length)
        return list(enc["input_ids"]), ex["label"]
    x = tokenizer(ex["text"], add_special_tokens=False)["input_ids"]
    y = tokenizer(ex["target"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    y = y[: max_length - 1]
    x = x[-(max_length - 1 - len(y)) :] if max_length - 1 - len(y) > 0 else []
    ids = x + [separator_id(tokenizer)] + y
    return ids, [-100] * (len(x) + 1) + y


def separator_id(tokenizer) -> int:
    """The token between x and y: bos (GPT-2: 50256, as the reference code), else eos."""
    sep = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if sep is None:
        raise ValueError("the tokenizer has neither a bos nor an eos token to separate context and target")
    return sep


def prompt_ids(text: str, tokenizer, max_length: int | None = None) -> list[int]:
    """Decoder generation prompt: x + [bos] (the reference code's context + 50256), left-truncated."""
    x = tokenizer(text, add_special_tokens=False)["input_ids"]
    if max_length is not None:
        x = x[-(max_length - 1) :]
    return x + [separator_id(tokenizer)]


def _reason(err: BaseException) -> str:
    """The innermost cause of a loader's error, on one line (datasets wraps the real one)."""
    while err.__cause__ is not None or err.__context__ is not None:
        err = err.__cause__ or err.__context__  # type: ignore[assignment]
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:160]}" if text else type(err).__name__


@contextlib.contextmanager
def _quiet_datasets():
    """Silence the ``datasets`` loggers for a block: a damaged source is reported once, in one line."""
    logger = logging.getLogger("datasets")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
