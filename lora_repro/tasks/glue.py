"""GLUE (``nyu-mll/glue``) tasks and MNLI-n.

The paper reports GLUE dev-set numbers (test labels are hidden), so the ``test`` role reads the hub's
validation split (MNLI: ``validation_matched``); the unlabeled hub test splits stay loadable by name.
"""

from __future__ import annotations

import random
from typing import ClassVar

from datasets import Dataset

from lora_repro.tasks.base import HubSizes, Task, register_task
from lora_repro.tasks.schemas import GLUE_LABELS, GLUE_TEXT, glue_features
from lora_repro.tasks.sources import HubSpec
from lora_repro.tiny.synthetic.glue import glue_rows

METRICS = {
    "cola": ("matthews", "max"),
    "sst2": ("accuracy", "max"),
    "mrpc": ("accuracy", "max"),
    "qqp": ("accuracy", "max"),
    "stsb": ("pearson", "max"),
    "mnli": ("accuracy", "max"),
    "qnli": ("accuracy", "max"),
    "rte": ("accuracy", "max"),
}
# The hub's train/validation sizes, typical tokens per example and the paper's epochs (grid/estimate.py).
HUB_SIZES = {
    "mnli": HubSizes(392_702, 19_647, 40, 30),
    "sst2": HubSizes(67_349, 872, 25, 60),
    "mrpc": HubSizes(3_668, 408, 50, 30),
    "cola": HubSizes(8_551, 1_043, 12, 80),
    "qnli": HubSizes(104_743, 5_463, 50, 25),
    "qqp": HubSizes(363_846, 40_430, 30, 25),
    "rte": HubSizes(2_490, 277, 70, 80),
    "stsb": HubSizes(5_749, 1_500, 30, 40),
}
# Decoder prompts: "<sentence> <question>" -> " <label name>" (the GPT-3 rows train MNLI this way).
DECODER_PROMPTS = {
    "cola": "sentence: {a}\nacceptable?",
    "sst2": "sentence: {a}\nsentiment:",
    "mrpc": "sentence 1: {a}\nsentence 2: {b}\nequivalent?",
    "qqp": "question 1: {a}\nquestion 2: {b}\nduplicate?",
    "stsb": "sentence 1: {a}\nsentence 2: {b}\nsimilarity:",
    "mnli": "premise: {a}\nhypothesis: {b}\nrelation:",
    "qnli": "question: {a}\nsentence: {b}\nentailment?",
    "rte": "sentence 1: {a}\nsentence 2: {b}\nentailment?",
}


class GlueTask(Task):
    """One GLUE config: sentence (pair) classification, or regression for STS-B."""

    config: ClassVar[str]

    def __init__(self, name: str, profile: str = "tiny", source: str | None = None, **options):
        super().__init__(name, profile, source, **options)
        cfg = self.config
        self.hub = HubSpec("nyu-mll/glue", cfg, options.get("revision", "main"))
        self.features = glue_features(cfg)
        self.label_names = GLUE_LABELS[cfg]
        self.kind = "regression" if cfg == "stsb" else "classification"
        self.metric = f"glue_{cfg}"
        self.select_metric = METRICS[cfg]
        if cfg == "mnli":
            self.hub_splits = [
                "train",
                "validation_matched",
                "validation_mismatched",
                "test_matched",
                "test_mismatched",
            ]
            self.splits = {"train": "train", "validation": "validation_matched", "test": "validation_matched"}
        else:
            self.hub_splits = ["train", "validation", "test"]
            self.splits = {"train": "train", "validation": "validation", "test": "validation"}

    @property
    def data_name(self) -> str:
        return self.config

    @property
    def label_words(self) -> list[str] | None:
        """The decoder target of each class id (e.g. " entailment"); None for STS-B."""
        return [f" {n}" for n in self.label_names] if self.label_names else None

    def generate(self, split: str, n: int, seed: int) -> list[dict]:
        labeled = not split.startswith("test")
        return glue_rows(
            self.config, n, self.rng(split, seed), labeled, mismatched=split.endswith("mismatched")
        )

    def format(self, row: dict, family: str = "encoder") -> dict:
        """encoder: text/text_pair + label; decoder: prompt + verbalised label (STS-B: score, 1 decimal)."""
        a_col, b_col = GLUE_TEXT[self.config]
        a, b = row[a_col], row[b_col] if b_col else None
        label = row["label"]
        if family == "encoder":
            return {"text": a, "text_pair": b, "target": None, "label": label}
        text = DECODER_PROMPTS[self.config].format(a=a, b=b)
        if self.kind == "regression":
            target = f" {float(label):.1f}"
        else:
            target = f" {self.label_names[label]}" if label is not None and label >= 0 else None
        return {"text": text, "text_pair": None, "target": target, "label": label}


class MnliSubsetTask(GlueTask):
    """MNLI-n (App. F.3): ``subset`` MNLI train rows drawn with ``random.Random(subset_seed)``; full matched dev."""

    config = "mnli"
    hub_sizes = None  # no GPU-hour estimate for the subsets

    def __init__(self, name: str, profile: str = "tiny", source: str | None = None, **options):
        super().__init__(name, profile, source, **options)
        size = (options.get("tiny") or {}).get("subset") if profile == "tiny" else None
        self.subset = int(size or options.get("subset", 0))
        self.subset_seed = int(options.get("subset_seed", 0))
        if self.subset <= 0:
            raise ValueError(
                f"task {name}: subset must be a positive number of training rows, got {self.subset}"
            )

    def post_load(self, ds: Dataset, split: str) -> Dataset:
        if split != "train":
            return ds
        if self.subset > len(ds):
            raise ValueError(f"task {self.name}: subset {self.subset} > {len(ds)} MNLI training rows")
        rows = random.Random(self.subset_seed).sample(range(len(ds)), self.subset)
        return ds.select(rows)  # in memory: nothing is written next to a user's source files


def _make(cfg: str) -> type[GlueTask]:
    return type(f"Glue_{cfg}", (GlueTask,), {"config": cfg, "hub_sizes": HUB_SIZES[cfg]})


for _cfg in HUB_SIZES:  # registered in the order of lora_repro.tasks.TASKS
    register_task(_cfg)(_make(_cfg))
for _name in ("mnli_100", "mnli_1k", "mnli_10k"):
    register_task(_name)(MnliSubsetTask)
