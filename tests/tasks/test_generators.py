"""Determinism, E2E reference grouping, WebNLG seen/unseen, WikiSQL executability, formatting strings."""

from __future__ import annotations

import pytest
from datasets import Dataset

from lora_repro.tasks import TASKS, get_task
from lora_repro.tiny.synthetic.tables import execute

SMALL = {"n_train": 40, "n_validation": 20, "n_test": 60}
UNSEEN = {"Athlete", "Artist", "CelestialBody", "MeanOfTransportation", "Politician"}


@pytest.mark.parametrize("name", [t for t in TASKS if not t.startswith("mnli_")])
def test_same_seed_same_data_other_seed_other_data(name, tmp_path):
    a = get_task(name, tiny=SMALL, cache_dir=tmp_path / "a").load("train").to_list()
    b = get_task(name, tiny=SMALL, cache_dir=tmp_path / "b").load("train").to_list()
    c = get_task(name, tiny=SMALL, seed=1, cache_dir=tmp_path / "a").load("train").to_list()
    assert a == b
    assert a != c
    val = get_task(name, tiny=SMALL, cache_dir=tmp_path / "a").load("validation").to_list()
    assert val != a[: len(val)]  # splits are different draws


def test_mnli_subsets_are_fixed_random_subsets(cache_dir):
    full = get_task("mnli", tiny=SMALL, cache_dir=cache_dir).load("train")
    sub = get_task("mnli_100", tiny={**SMALL, "subset": 25}, cache_dir=cache_dir).load("train")
    again = get_task("mnli_100", tiny={**SMALL, "subset": 25}, cache_dir=cache_dir).load("train")
    assert len(sub) == 25 and sub.to_list() == again.to_list()
    assert {r["idx"] for r in sub} <= {r["idx"] for r in full}
    assert [r["idx"] for r in sub] != list(range(25))  # random, not the first rows
    assert len(get_task("mnli_1k", tiny=SMALL, cache_dir=cache_dir).load("test")) == SMALL["n_validation"]
    with pytest.raises(ValueError, match="subset 1000 > 40"):
        get_task("mnli_1k", tiny={**SMALL, "subset": 1000}, cache_dir=cache_dir).load("train")


def test_e2e_test_references_are_grouped_per_mr(cache_dir):
    task = get_task("e2e", tiny=SMALL, cache_dir=cache_dir)
    ds = task.load("test")
    groups = task.eval_groups(ds)
    mrs = ds["meaning_representation"]
    assert len(groups) == len(set(mrs)) and sum(len(g["references"]) for g in groups) == len(ds)
    # rows of one MR are consecutive, as on the hub
    assert sum(1 for i in range(1, len(mrs)) if mrs[i] != mrs[i - 1]) == len(groups) - 1
    assert all(len(g["references"]) >= 2 for g in groups[:-1])
    # order-preserving grouping of a hand-written hub-schema table
    hand = Dataset.from_dict(
        {
            "meaning_representation": [
                "name[A], eatType[pub]",
                "name[B], food[French]",
                "name[A], eatType[pub]",
            ],
            "human_reference": ["A is a pub.", "B serves French food.", "A is a pub. "],
        }
    )
    g = task.eval_groups(hand)
    assert [x["text"] for x in g] == ["name : A | Type : pub", "name : B | food : French"]
    assert (
        g[0]["references"] == ["A is a pub.", "A is a pub."]
        and g[1]["meta"]["meaning_representation"] == "name[B], food[French]"
    )
    ex = task.format(hand[1])
    assert ex == {
        "text": "name : B | food : French",
        "text_pair": None,
        "target": " B serves French food.",
        "label": None,
    }


def test_webnlg_seen_unseen_split(cache_dir):
    task = get_task("webnlg", tiny=SMALL, cache_dir=cache_dir)
    train_cats = set(task.load("train")["category"]) | set(task.load("validation")["category"])
    assert train_cats and not train_cats & UNSEEN
    raw = task.load_split("test")
    assert set(raw["test_category"]) == {"testdata_with_lex", "testdata_unseen_with_lex", "testdata_no_lex"}
    test = task.load("test")
    assert len(test) == SMALL["n_test"] and set(test["test_category"]) == {"testdata_with_lex"}
    groups = task.eval_groups(test)
    seen = [g for g in groups if g["meta"]["seen"]]
    unseen = [g for g in groups if not g["meta"]["seen"]]
    assert seen and unseen
    assert {g["meta"]["category"] for g in unseen} <= UNSEEN
    assert not {g["meta"]["category"] for g in seen} & UNSEEN
    assert all(len(g["references"]) >= 2 for g in groups)
    row = test[0]
    assert groups[0]["references"] == row["lex"]["text"]
    # every lexicalisation is a training example
    train = task.load("train")
    assert len(task.examples(train)) == sum(len(r["lex"]["text"]) for r in train)


def test_webnlg_and_dart_linearisation():
    web = get_task("webnlg")
    row = {"modified_triple_sets": {"mtriple_set": [["Aarhus_Airport | cityServed | Aarhus", "Aarhus | country | Denmark"]]},
           "lex": {"text": ["Aarhus Airport serves Aarhus.", "bad one"], "comment": ["good", "bad"]}}  # fmt: skip
    ex = web.format(row)
    assert ex["text"] == "Aarhus_Airport : cityServed : Aarhus | Aarhus : country : Denmark"
    assert (
        ex["references"] == ["Aarhus Airport serves Aarhus."]
        and ex["target"] == " Aarhus Airport serves Aarhus."
    )
    unannotated = {**row, "lex": {"text": ["A.", "B."], "comment": ["", ""]}}
    assert web.format(unannotated)["references"] == ["A.", "B."]  # no comments at all: keep every text
    dart = get_task("dart")
    ex = dart.format(
        {"tripleset": [["Mars Hill", "LOCATION", "Kelso"]], "annotations": {"source": ["x"], "text": ["t"]}}
    )
    assert ex["text"] == "Mars Hill : location : Kelso"


def test_wikisql_sql_executes_and_formats(cache_dir):
    task = get_task("wikisql", tiny=SMALL, cache_dir=cache_dir)
    ds = task.load("train")
    assert {r["sql"]["agg"] for r in ds} >= {0, 3} and {
        o for r in ds for o in r["sql"]["conds"]["operator_index"]
    } >= {0, 1}
    for row in ds:
        assert execute(row["table"], row["sql"]) not in ([], [None], [0])
        hr = row["sql"]["human_readable"]
        assert (
            hr.startswith("SELECT ")
            and f" {row['table']['header'][row['sql']['sel']]} FROM table WHERE " in hr
        )
    ex = task.format(ds[0])
    assert ex["text"] == f"table: {' | '.join(ds[0]['table']['header'])}\nquestion: {ds[0]['question']}\nsql:"
    assert ex["target"] == " " + ds[0]["sql"]["human_readable"]


def test_samsum_format_is_appendix_c():
    task = get_task("samsum")
    ex = task.format({"id": "1", "dialogue": "Amanda: Hi\r\nTom: Hey", "summary": "They greet. "})
    assert ex["text"] == "Amanda: Hi\nTom: Hey\n\n" and ex["target"] == "They greet."


def test_generators_do_not_depend_on_the_process(tmp_path):
    """Same rows in another interpreter with another hash seed (no set/dict-order or hash() leaks)."""
    import hashlib
    import json
    import os
    import subprocess
    import sys

    code = (
        "import hashlib, json\n"
        "from lora_repro.tasks import get_task, TASKS\n"
        "rows = {n: get_task(n).generate('train', 30, 7) for n in TASKS if not n.startswith('mnli_')}\n"
        "print(hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert other.returncode == 0, other.stderr
    rows = {n: get_task(n).generate("train", 30, 7) for n in TASKS if not n.startswith("mnli_")}
    assert other.stdout.strip() == hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()
