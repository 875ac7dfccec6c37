"""Generated data has EXACTLY the hub schema (written out here from ../shared/DATASETS.md, not imported)."""

from __future__ import annotations

import pytest
from datasets import ClassLabel, Dataset, Features, List, Value

from lora_repro.tasks import TASKS, get_task

S = Value("string")
I32 = Value("int32")


def _glue(a, b, names):
    cols = {
        a: S,
        **({b: S} if b else {}),
        "label": ClassLabel(names=names) if names else Value("float32"),
        "idx": I32,
    }
    return Features(cols)


NLI3 = ["entailment", "neutral", "contradiction"]
EXPECTED = {
    "cola": _glue("sentence", None, ["unacceptable", "acceptable"]),
    "sst2": _glue("sentence", None, ["negative", "positive"]),
    "mrpc": _glue("sentence1", "sentence2", ["not_equivalent", "equivalent"]),
    "qqp": _glue("question1", "question2", ["not_duplicate", "duplicate"]),
    "stsb": _glue("sentence1", "sentence2", None),
    "mnli": _glue("premise", "hypothesis", NLI3),
    "qnli": _glue("question", "sentence", ["entailment", "not_entailment"]),
    "rte": _glue("sentence1", "sentence2", ["entailment", "not_entailment"]),
    "e2e": Features({"meaning_representation": S, "human_reference": S}),
    "webnlg": Features(
        {
            "category": S,
            "size": I32,
            "eid": S,
            "original_triple_sets": {"otriple_set": List(List(S))},
            "modified_triple_sets": {"mtriple_set": List(List(S))},
            "shape": S,
            "shape_type": S,
            "lex": {"comment": List(S), "lid": List(S), "text": List(S), "lang": List(S)},
            "test_category": S,
            "dbpedia_links": List(S),
            "links": List(S),
        }
    ),
    "dart": Features(
        {
            "tripleset": List(List(S)),
            "subtree_was_extended": Value("bool"),
            "annotations": {"source": List(S), "text": List(S)},
        }
    ),
    "wikisql": Features(
        {
            "phase": I32,
            "question": S,
            "table": {
                "header": List(S),
                "page_title": S,
                "page_id": S,
                "types": List(S),
                "id": S,
                "section_title": S,
                "caption": S,
                "rows": List(List(S)),
                "name": S,
            },
            "sql": {
                "human_readable": S,
                "sel": I32,
                "agg": I32,
                "conds": {"column_index": List(I32), "operator_index": List(I32), "condition": List(S)},
            },
        }
    ),
    "samsum": Features({"id": S, "dialogue": S, "summary": S}),
}
HUB_SPLITS = {
    "mnli": ["train", "validation_matched", "validation_mismatched", "test_matched", "test_mismatched"],
    "webnlg": ["train", "dev", "test"],
}
SMALL = {"n_train": 12, "n_validation": 6, "n_test": 6}


def _data_name(task):
    return "mnli" if task.startswith("mnli") else task


@pytest.mark.parametrize("name", TASKS)
def test_every_hub_split_has_the_hub_schema(name, cache_dir):
    task = get_task(name, tiny=SMALL, cache_dir=cache_dir)
    expected = EXPECTED[_data_name(name)]
    for split in HUB_SPLITS.get(_data_name(name), ["train", "validation", "test"]):
        ds = task.load_split(split)
        assert ds.features == expected, f"{name}/{split} drifted from the hub schema"
        assert len(ds) >= 6
    assert set(task.splits) == {"train", "validation", "test"}


@pytest.mark.parametrize("name", ["sst2", "mnli", "cola", "stsb"])
def test_glue_test_splits_are_unlabeled(name, cache_dir):
    task = get_task(name, tiny=SMALL, cache_dir=cache_dir)
    split = "test_matched" if name == "mnli" else "test"
    assert set(task.load_split(split)["label"]) == {-1}
    assert -1 not in set(task.load("validation")["label"])


def test_task_attributes():
    mnli = get_task("mnli")
    assert (mnli.kind, mnli.num_labels, mnli.label_names) == ("classification", 3, NLI3)
    assert mnli.splits == {"train": "train", "validation": "validation_matched", "test": "validation_matched"}
    assert mnli.metric == "glue_mnli" and mnli.select_metric == ("accuracy", "max")
    stsb = get_task("stsb")
    assert (stsb.kind, stsb.num_labels, stsb.label_names) == ("regression", 1, None)
    assert get_task("cola").select_metric == ("matthews", "max")
    e2e = get_task("e2e")
    assert (e2e.kind, e2e.num_labels, e2e.metric) == ("generation", None, "e2e")
    assert get_task("webnlg").splits["validation"] == "dev"
    assert get_task("wikisql").splits["test"] == "validation"  # the paper reports validation accuracy
    for name in TASKS:
        assert get_task(name).name == name


def test_schema_check_names_the_missing_column(tmp_path, cache_dir):
    Dataset.from_dict({"meaning_representation": ["name[A]"]}).to_parquet(str(tmp_path / "test.parquet"))
    with pytest.raises(ValueError, match="missing column 'human_reference'"):
        get_task("e2e", source=str(tmp_path), cache_dir=cache_dir).load("test")


def test_schema_check_names_the_mistyped_column(tmp_path, cache_dir):
    bad = Dataset.from_dict({"sentence": ["a ."], "label": ["positive"], "idx": [0]})
    bad.to_parquet(str(tmp_path / "validation.parquet"))
    with pytest.raises(ValueError, match="column 'label' should be ClassLabel"):
        get_task("sst2", source=str(tmp_path), cache_dir=cache_dir).load("validation")


def test_schema_check_names_nested_columns(tmp_path, cache_dir):
    rows = {
        "tripleset": [[["a", "b", "c"]]],
        "subtree_was_extended": [None],
        "annotations": [{"source": ["x"]}],
    }
    Dataset.from_dict(rows).to_parquet(str(tmp_path / "test.parquet"))
    with pytest.raises(ValueError, match="missing column 'annotations.text'"):
        get_task("dart", source=str(tmp_path), cache_dir=cache_dir).load("test")


def test_bad_names_are_rejected():
    with pytest.raises(ValueError, match="unknown task 'glue'"):
        get_task("glue")
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        get_task("sst2", profile="huge")
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        get_task("sst2").load("dev")
