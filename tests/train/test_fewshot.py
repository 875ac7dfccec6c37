"""Few-shot in-context evaluation (Table 8): lora_repro/train/fewshot.py and ``method=fewshot``.

The prompts are read back token by token (every demonstration ends with EOS, the evaluated example
with the separator), and each demonstration is matched against the training split's own rows
tokenised here, so the counts, the classes and "never the evaluated example" are checked without the
code that built the prompts.
"""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from lora_repro.tasks import get_task
from lora_repro.tasks.base import prompt_ids, separator_id
from lora_repro.train.fewshot import fewshot_prompts

SIZES = {"n_train": 60, "n_validation": 20, "n_test": 20}
BIG = 100_000


def _cfg(shots: int = 2, seed: int = 0):
    return OmegaConf.create({"method": {"name": "fewshot", "shots_per_class": shots, "demo_seed": seed}})


def _task(cache_dir, name: str = "mnli"):
    return get_task(name, profile="tiny", tiny=SIZES, cache_dir=str(cache_dir))


def _read(prompt: list[int], tokenizer) -> tuple[list[tuple[tuple[int, ...], tuple[int, ...]]], list[int]]:
    """(the demonstrations as (x ids, y ids) pairs, the evaluated example's x + [sep])."""
    eos, sep = tokenizer.eos_token_id, separator_id(tokenizer)
    parts, cur = [], []
    for t in prompt:
        cur.append(t)
        if t == eos:
            parts.append(cur)
            cur = []
    demos = []
    for part in parts:
        cut = part.index(sep)
        demos.append((tuple(part[:cut]), tuple(part[cut + 1 : -1])))
    return demos, cur


def _train_index(task, tokenizer) -> dict[tuple[int, ...], list[int]]:
    """Token ids of each training row's decoder prompt -> the labels of the rows with that prompt."""
    out: dict[tuple[int, ...], list[int]] = {}
    for row in task.load("train"):
        ids = tuple(tokenizer(task.format(row, "decoder")["text"], add_special_tokens=False)["input_ids"])
        out.setdefault(ids, []).append(row["label"])
    return out


@pytest.mark.parametrize("name,shots", [("mnli", 2), ("mnli", 1), ("rte", 2)])
def test_the_prompt_holds_exactly_the_demonstrations_asked_for(tokenizer, cache_dir, name, shots):
    task = _task(cache_dir, name)
    train = _train_index(task, tokenizer)
    words = {
        tuple(tokenizer(w, add_special_tokens=False)["input_ids"]): c for c, w in enumerate(task.label_words)
    }
    items = [task.format(r, "decoder") for r in task.load("validation")]
    for it, prompt in zip(items, fewshot_prompts(task, tokenizer, items, _cfg(shots), BIG), strict=True):
        demos, own = _read(prompt, tokenizer)
        assert own == prompt_ids(it["text"], tokenizer)  # the evaluated example comes last, whole
        classes = [words[y] for _, y in demos]
        assert sorted(classes) == sorted(list(range(len(task.label_names))) * shots)  # MNLI-m, 2: 6 in all
        own_x = tuple(own[:-1])
        for x, y in demos:
            assert words[y] in train[x]  # a training row, with its own label
            assert x != own_x


def test_a_demonstration_is_never_the_evaluated_example(tokenizer, cache_dir):
    task = _task(cache_dir)
    items = [task.format(r, "decoder") for r in task.load("train")]  # every training row evaluated
    prompts = fewshot_prompts(task, tokenizer, items, _cfg(), BIG)
    sets = []
    for prompt in prompts:
        demos, own = _read(prompt, tokenizer)
        assert tuple(own[:-1]) not in [x for x, _ in demos]
        assert len(demos) == 6
        sets.append(tuple(x for x, _ in demos))
    # the six rows that are everyone else's demonstrations got replacements when they were evaluated
    common = max(set(sets), key=sets.count)
    assert sets.count(common) == len(items) - 6


def test_same_seed_same_demonstrations_other_seed_others(tokenizer, cache_dir):
    task = _task(cache_dir)
    items = [task.format(r, "decoder") for r in task.load("validation")][:3]
    a = fewshot_prompts(task, tokenizer, items, _cfg(seed=7), BIG)
    assert a == fewshot_prompts(task, tokenizer, items, _cfg(seed=7), BIG)
    assert a != fewshot_prompts(task, tokenizer, items, _cfg(seed=8), BIG)


def test_a_long_prompt_loses_demonstration_tokens_from_the_left_never_the_example(tokenizer, cache_dir):
    task = _task(cache_dir)
    items = [task.format(r, "decoder") for r in task.load("validation")][:4]
    full = fewshot_prompts(task, tokenizer, items, _cfg(), BIG)
    cut = fewshot_prompts(task, tokenizer, items, _cfg(), 100)
    for it, f, c in zip(items, full, cut, strict=True):
        own = prompt_ids(it["text"], tokenizer)
        assert len(f) > 100 and len(c) == 100
        assert c == f[-100:] and c[-len(own) :] == own


def test_too_few_rows_of_a_class_and_bad_options_are_refused_in_one_line(tokenizer, cache_dir):
    from tiny_models import tiny_gpt2

    from lora_repro.methods import apply_method

    task = _task(cache_dir)
    items = [task.format(r, "decoder") for r in task.load("validation")][:1]
    with pytest.raises(ValueError, match=r"fewer than method.shots_per_class=500 rows of class"):
        fewshot_prompts(task, tokenizer, items, _cfg(shots=500), BIG)
    with pytest.raises(
        ValueError, match=r"fewshot: shots_per_class must be a positive integer \(>= 1\), got 0"
    ):  # the Python API names a method's option as every method does (lora_repro/validate.py)
        apply_method(tiny_gpt2(), "fewshot", shots_per_class=0)
    with pytest.raises(ValueError, match=r"method.demo_seed must be an integer, got 'x'"):
        fewshot_prompts(task, tokenizer, items, OmegaConf.create({"method": {"demo_seed": "x"}}), BIG)


@pytest.mark.slow
def test_a_tiny_fewshot_cell_evaluates_without_training(gpt2_dir, tmp_path):
    from lora_repro.train.cell import cell_config, run_cell

    small = [
        "task.tiny.n_train=80",
        "task.tiny.n_validation=40",
        "task.tiny.n_test=40",
        "eval.max_test_examples=6",
    ]
    common = [
        "model=gpt2-medium",
        "task=mnli",
        "method=fewshot",
        f"model.path={gpt2_dir}",
        "train.num_threads=1",
        *small,
    ]
    run_dir = run_cell(cell_config([*common, f"run_dir={tmp_path / 'fs'}", "train.epochs=0"]))
    r = json.loads((run_dir / "result.json").read_text())
    assert r["epochs"] == [] and r["params"]["adapter"] == 0 and r["params"]["trainable"] == 0
    rows = [json.loads(line) for line in (run_dir / "predictions_test.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and {row["generated"] for row in rows} <= {"entailment", "neutral", "contradiction"}
    right = sum(row["prediction"] == row["label"] for row in rows)
    assert r["test"]["accuracy"] == pytest.approx(100.0 * right / len(rows))
    with pytest.raises(ValueError, match="method=fewshot trains nothing .*: give train.epochs=0"):
        run_cell(cell_config([*common, f"run_dir={tmp_path / 'trains'}", "train.epochs=1"]))
