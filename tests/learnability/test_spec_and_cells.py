"""The learnability spec (the shipped one and bad ones) and the cells it expands into."""

import pytest
import yaml

from lora_repro.learnability.cli import plan_from
from lora_repro.learnability.spec import load_spec, parse_spec

# the rows issue 14 asks for: (task, model)
ISSUE_ROWS = [
    ("mnli", "roberta-base"), ("sst2", "roberta-base"), ("mrpc", "roberta-base"), ("cola", "roberta-base"),
    ("qnli", "roberta-base"), ("qqp", "roberta-base"), ("rte", "roberta-base"), ("stsb", "roberta-base"),
    ("mnli", "gpt3-175b"), ("wikisql", "gpt2-medium"), ("wikisql", "gpt3-175b"), ("samsum", "gpt3-175b"),
    ("e2e", "gpt2-medium"), ("webnlg", "gpt2-medium"), ("dart", "gpt2-medium"),
]  # fmt: skip


def test_the_shipped_spec_has_the_issue_rows_and_bars():
    spec = load_spec()
    assert [(r.task, r.model) for r in spec.rows] == ISSUE_ROWS
    assert spec.profile == "tiny" and spec.seeds == (1, 2, 3) and spec.ceiling == 98
    assert spec.methods == (("lora", "LoRA"), ("ft", "FT"))
    by = {r.key: r for r in spec.rows}
    assert by["mrpc@roberta-base"].bar.metrics == ("accuracy", "f1") == by["qqp@roberta-base"].bar.metrics
    assert (by["cola@roberta-base"].bar.kind, by["cola@roberta-base"].bar.amount) == ("at_least", 30)
    assert (by["stsb@roberta-base"].bar.kind, by["stsb@roberta-base"].bar.amount) == ("at_least", 60)
    for key in ("wikisql@gpt2-medium", "wikisql@gpt3-175b"):
        assert by[key].bar.methods == ("lora",) and by[key].bar.amount == 30
    assert (by["samsum@gpt3-175b"].bar.kind, by["samsum@gpt3-175b"].bar.amount) == ("above_baseline", 10)
    assert by["samsum@gpt3-175b"].metrics == ("rougeL",) and by["samsum@gpt3-175b"].baseline == "lead_1"
    for key in ("e2e@gpt2-medium", "webnlg@gpt2-medium", "dart@gpt2-medium"):
        assert (by[key].bar.kind, by[key].bar.amount, by[key].metrics) == ("above_untrained", 20, ("BLEU",))
    for t in ("mnli", "sst2", "qnli", "rte"):
        assert (by[f"{t}@roberta-base"].bar.kind, by[f"{t}@roberta-base"].bar.amount) == (
            "above_baseline",
            15,
        )


def test_tasks_selects_rows_by_task_or_task_at_model():
    spec = load_spec()
    assert [r.key for r in spec.select("mnli").rows] == ["mnli@roberta-base", "mnli@gpt3-175b"]
    assert [r.key for r in spec.select("mnli@gpt3-175b,e2e").rows] == ["mnli@gpt3-175b", "e2e@gpt2-medium"]
    assert [r.key for r in spec.select(["sst2"]).rows] == ["sst2@roberta-base"]
    with pytest.raises(ValueError, match=r"tasks='mnli,nope': unknown row \['nope'\]; allowed: \['mnli'"):
        spec.select("mnli,nope")


def _bad(text, tmp_path, edit):
    raw = yaml.safe_load(text)
    edit(raw)
    return lambda: parse_spec(raw, tmp_path / "bad.yaml")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda r: r["rows"][0].update(metrics=["f1"]),
            "task mnli has no metric 'f1'; allowed: ['accuracy']",
        ),
        (
            lambda r: r["rows"][0].update(baseline="mean"),
            "baseline 'mean' is for regression tasks, mnli is a classification",
        ),
        (lambda r: r["rows"][0].update(baseline="guess"), "baseline 'guess' not allowed"),
        (
            lambda r: r["rows"][0]["bar"].update(kind="beat"),
            "kind 'beat' not allowed; allowed: ['above_baseline'",
        ),
        (
            lambda r: r["rows"][0]["bar"].update(methods=["adapter"]),
            "unknown method 'adapter'; allowed: ['lora', 'ft']",
        ),
        (lambda r: r["rows"][0]["bar"].pop("points"), "bar: missing key 'points'"),
        (lambda r: r["rows"][0].update(colour="red"), "unknown key 'colour'"),
        (lambda r: r["rows"][0].update(task="nope"), "unknown task 'nope'"),
        (lambda r: r["rows"][0].update(model="gpt5"), "unknown model 'gpt5'; allowed: ["),
        (lambda r: r.update(seeds=["a"]), "seeds must be a non-empty list of integers"),
        (lambda r: r["rows"].append(dict(r["rows"][0])), "duplicate rows ['mnli@roberta-base']"),
    ],
)
def test_a_bad_spec_gives_one_clear_error(lk, tmp_path, edit, message):
    with pytest.raises(ValueError) as err:
        _bad(lk.SMALL_SPEC, tmp_path, edit)()
    assert message in str(err.value) and "bad.yaml" in str(err.value)


def test_cells_overrides_and_dependencies(lk, spec_file, tmp_path):
    argv = [
        f"config={spec_file}",
        f"runs={tmp_path / 'runs'}",
        "train.max_train_examples=8",
        "train.epochs=1",
    ]
    _, _, _, plan = plan_from(argv, resolver=lk.resolver)
    cells = plan.grid.cells
    names = sorted((c.model, c.task, c.method, c.seed, "train.epochs=0" in c.overrides) for c in cells)
    untrained = [
        (m, t, "ft", 1, True)
        for m, t in (("roberta-base", "mnli"), ("roberta-base", "mrpc"), ("gpt2-medium", "e2e"))
    ]
    trained = [(m, t, meth, s, False) for m, t in (("roberta-base", "mnli"), ("roberta-base", "mrpc"), ("gpt2-medium", "e2e"))
               for meth in ("lora", "ft") for s in (1, 2, 3)]  # fmt: skip
    assert names == sorted(untrained + trained)  # 3 + 18 cells, the MNLI LoRA cells shared with MRPC
    assert len({c.id for c in cells}) == len(cells) == 21
    by = {(c.task, c.method, c.seed, "train.epochs=0" in c.overrides): c for c in cells}
    un = by[("mrpc", "ft", 1, True)]
    assert un.overrides == (
        "profile=tiny",
        "model=roberta-base",
        "task=mrpc",
        "method=ft",
        "seed=1",
        "train.max_train_examples=8",
        "train.epochs=1",
        "train.epochs=0",
        "init_from=pretrained",
        f"runs_root={tmp_path / 'runs' / 'tiny'}",
    )  # fmt: skip  (the untrained overrides come after the user's: epochs=0 wins)
    assert un.deps == () and un.run_dir == tmp_path / "runs" / "tiny" / un.id
    lora = by[("mrpc", "lora", 2, False)]
    assert lora.deps == (by[("mnli", "lora", 2, False)].id,) and "init_from=mnli" in lora.overrides
    assert "init_overrides=['train.max_train_examples=8','train.epochs=1']" in lora.overrides
    assert (
        by[("mrpc", "ft", 2, False)].deps == ()
        and "init_from=mnli" not in by[("mrpc", "ft", 2, False)].overrides
    )
    assert by[("e2e", "lora", 3, False)].overrides[:5] == (
        "profile=tiny",
        "model=gpt2-medium",
        "task=e2e",
        "method=lora",
        "seed=3",
    )
    order = [c.id for c in cells]
    assert all(order.index(d) < order.index(c.id) for c in cells for d in c.deps)
    assert order[:3] == [by[(t, "ft", 1, True)].id for t in ("mnli", "mrpc", "e2e")]  # untrained first
    # seeds= changes the trained cells' seeds, not the untrained model's
    _, _, _, plan = plan_from([*argv, "seeds=4"], resolver=lk.resolver)
    assert sorted({(c.seed, "train.epochs=0" in c.overrides) for c in plan.grid.cells}) == [
        (1, True),
        (4, False),
    ]
    # the reference cell of a row (the baseline's config): its first trained cell on its own task
    assert plan.rows[1].reference_cell.task == "mrpc" and plan.rows[1].reference_cell.method == "lora"
