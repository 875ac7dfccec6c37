"""Few-shot in-context evaluation (the paper's Table 8), and which scorer decoder classification uses.

``method=fewshot`` trains nothing (``train.epochs=0``; lora_repro/methods/fewshot.py freezes every
weight): the cell evaluates the pretrained decoder on its test role with demonstrations in the prompt.

* **Demonstrations** come from the task's *training* split: its rows in the order of a permutation
  drawn with ``random.Random(method.demo_seed)``, the first ``method.shots_per_class`` rows of each
  class kept (MNLI-m: 2 per class, 6 in all, App. A of the paper). They keep the permutation's order
  (the classes interleave at random) and are the same for every evaluated example, except that a
  demonstration whose prompt text equals the evaluated example's is skipped for that example and the
  class's next row takes its place: a demonstration is never the evaluated example.
* **Prompt**: every demonstration exactly as a training sequence of the task's decoder format,
  ``x + [bos] + y + [eos]`` (lora_repro.tasks.base ``encode_example``), one after another, then the
  evaluated example's ``x + [bos]`` (``prompt_ids``). Prediction: the label word with the highest
  likelihood after it (lora_repro/train/evaluate.py), or generation with ``eval.decoder_labels=generate``.
* **Length**: the whole prompt plus the longest label (or ``generation``'s new tokens) must fit
  ``method.max_length`` (null: the model's context window). When it does not, tokens are cut from the
  left of the demonstration block (the demonstrations next to the evaluated example stay whole); the
  evaluated example is never cut, unless it alone exceeds the window (then it is left-truncated as
  every decoder prompt is, with no demonstration).

This module imports neither torch nor the trainer: ``cell.py`` asks it, while hashing a config,
whether the label scorer changes what the cell computes (:func:`likelihood_scored`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

METHOD = "fewshot"
DECODER_LABELS = ("likelihood", "generate")
SPARE = 4  # extra rows per class kept in the pool, to replace a demonstration equal to the evaluated example


def scorer(task, cfg) -> str:
    """``likelihood`` or ``generate``: how this cell's decoder reads a label (regression always generates)."""
    mode = str((cfg.get("eval") or {}).get("decoder_labels", "likelihood"))
    if mode not in DECODER_LABELS:
        raise ValueError(f"eval.decoder_labels={mode!r}; allowed: {list(DECODER_LABELS)}")
    if task.kind != "classification" or not task.label_names:
        return "generate"
    return mode


def likelihood_scored(tree: Mapping[str, Any]) -> bool:
    """True when a resolved cell config (plain dict) scores labels by likelihood: a decoder on a
    classification task with ``eval.decoder_labels=likelihood``. Everywhere else the key changes
    nothing (encoders, NLG, STS-B) or keeps the scoring cells had before it (``generate``), so
    ``cell.py`` leaves it out of their hash and their run directories stay the same."""
    if (tree.get("eval") or {}).get("decoder_labels") != "likelihood":
        return False
    if (tree.get("model") or {}).get("kind") != "decoder":
        return False
    return task_kind(tree) == "classification"


def task_kind(tree: Mapping[str, Any]) -> str:
    """The kind of the task a resolved cell config names (classification, regression, generation)."""
    from lora_repro.tasks import get_task

    opts = dict(tree.get("task") or {})
    name, source = opts.pop("name"), opts.pop("source", None)
    profile = str((tree.get("profile") or {}).get("name", "tiny"))
    return str(get_task(name, profile=profile, source=source, **opts).kind)


def is_fewshot(cfg) -> bool:
    """True for a ``method=fewshot`` cell."""
    return str((cfg.get("method") or {}).get("name")) == METHOD


def demo_pool(task, train_rows: Sequence[Mapping], shots_per_class: int, seed: int) -> list[dict]:
    """The first ``shots_per_class + SPARE`` training rows of each class in the seeded permutation,
    formatted for the decoder, in permutation order (each with its training-split ``index``)."""
    if task.kind != "classification" or not task.label_names:
        raise ValueError(
            f"method=fewshot needs a classification task with label words; task {task.name} is {task.kind}"
        )
    order = list(range(len(train_rows)))
    random.Random(seed).shuffle(order)
    want = shots_per_class + SPARE
    counts = dict.fromkeys(range(len(task.label_names)), 0)
    pool = []
    for i in order:
        label = train_rows[i]["label"]
        if label not in counts or counts[label] >= want:
            continue
        counts[label] += 1
        pool.append({**task.format(dict(train_rows[i]), "decoder"), "index": i})
        if all(n >= want for n in counts.values()):
            break
    short = [task.label_names[c] for c, n in counts.items() if n < shots_per_class]
    if short:
        raise ValueError(
            f"task {task.name}: the training split has fewer than method.shots_per_class={shots_per_class} "
            f"rows of class(es) {short}; lower method.shots_per_class"
        )
    return pool


def choose(pool: Sequence[dict], text: str, shots_per_class: int, n_classes: int) -> list[dict]:
    """The demonstrations for one evaluated example (prompt ``text``): the first ``shots_per_class`` of
    each of the ``n_classes`` classes in pool order whose prompt differs from ``text``, in pool order."""
    taken: dict[int, int] = {}
    out = []
    for demo in pool:
        if demo["text"] == text or taken.get(demo["label"], 0) >= shots_per_class:
            continue
        taken[demo["label"]] = taken.get(demo["label"], 0) + 1
        out.append(demo)
    if len(out) < shots_per_class * n_classes:
        raise ValueError(
            f"the training split has too few rows distinct from the evaluated example {text[:40]!r} for "
            f"method.shots_per_class={shots_per_class}; lower method.shots_per_class"
        )
    return out


def demo_ids(demos: Sequence[dict], tokenizer) -> list[int]:
    """The demonstrations as one token sequence: each one ``x + [bos] + y + [eos]``, as in training."""
    from lora_repro.tasks.base import encode_example

    ids: list[int] = []
    for demo in demos:
        ids += encode_example(demo, tokenizer, "decoder", 1 << 30)[0]
    return ids


def build_prompt(demos: list[int], text: str, tokenizer, budget: int) -> list[int]:
    """Demonstration tokens + the evaluated example's ``x + [bos]``, at most ``budget`` tokens: cut from
    the left of the demonstrations, never from the example (unless it alone is longer than ``budget``)."""
    from lora_repro.tasks.base import prompt_ids

    own = prompt_ids(text, tokenizer)
    if len(own) >= budget:
        return prompt_ids(text, tokenizer, budget)
    room = budget - len(own)
    return demos[len(demos) - room :] + own if len(demos) > room else demos + own


def fewshot_options(cfg) -> tuple[int, int, int | None]:
    """``(shots_per_class, demo_seed, max_length)`` of a few-shot cell, checked."""
    from lora_repro.methods.fewshot import check_options

    m = cfg.method
    shots, seed, max_length = m.get("shots_per_class", 2), m.get("demo_seed", 0), m.get("max_length")
    check_options(shots, seed, max_length)
    return int(shots), int(seed), None if max_length is None else int(max_length)


def fewshot_prompts(task, tokenizer, items: Sequence[dict], cfg, budget: int) -> list[list[int]]:
    """The few-shot prompt of every evaluated item (``task.format`` dicts), at most ``budget`` tokens."""
    shots, seed, _ = fewshot_options(cfg)
    pool = demo_pool(task, task.load("train"), shots, seed)
    block: dict[tuple[int, ...], list[int]] = {}
    out = []
    for it in items:
        demos = choose(pool, it["text"], shots, len(task.label_names))
        key = tuple(d["index"] for d in demos)
        if key not in block:
            block[key] = demo_ids(demos, tokenizer)
        out.append(build_prompt(block[key], it["text"], tokenizer, budget))
    return out
