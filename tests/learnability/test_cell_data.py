"""The baselines score exactly the test inputs the cells evaluate (the trainer's own ``load_splits``)."""

import pytest

from lora_repro.learnability.baselines import cell_data
from lora_repro.train.cell import cell_config
from lora_repro.train.setup import load_splits

pytestmark = pytest.mark.slow

SMALL = [
    "task.tiny.n_train=40", "task.tiny.n_validation=10", "task.tiny.n_test=30",
    "train.max_train_examples=25", "eval.max_test_examples=7", "eval.max_validation_examples=5",
]  # fmt: skip


def test_baseline_data_is_the_cells_data(tmp_path, monkeypatch):
    from lora_repro.tiny.tokenizer import tiny_tokenizer

    monkeypatch.setenv("LORA_REPRO_CACHE", str(tmp_path / "cache"))
    tok = tiny_tokenizer(tmp_path / "cache")
    for model, task_name in (("roberta-base", "mrpc"), ("gpt3-175b", "mnli"), ("gpt2-medium", "e2e")):
        cfg = cell_config([f"model={model}", f"task={task_name}", "method=lora", *SMALL])
        task, train_labels, test = cell_data(cfg)
        cells = load_splits(cfg, task, tok, str(cfg.model.kind))
        if task.kind == "generation":
            assert train_labels == [] and len(test) == 7
            assert test == cells["test_groups"]
        elif cfg.model.kind == "decoder":  # GPT-3 MNLI: labels are generated words
            assert len(train_labels) == 25 and test == [it["label"] for it in cells["test_items"]]
            words = [
                tok.decode([t for t in e.labels if t >= 0], skip_special_tokens=True) for e in cells["train"]
            ]
            assert [task.label_names[y] for y in train_labels] == [w.strip() for w in words]
        else:
            assert len(train_labels) == 25 and len(test) == 7
            assert test == [e.labels for e in cells["test"]]
            assert train_labels == [e.labels for e in cells["train"]]
