"""The task registry: a new task is one registered class and its config, and every consumer finds it.

Two fixture tasks are defined here and registered with ``register_task`` only (nothing else in the
package names them): a classification task whose decoder labels are parsed back, and a generation task
whose eval groups carry metadata for its metric under a key the package has never heard of. Their
configs are written to a temporary ``configs/task/`` (``lora_repro.config.config_dir`` patched).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from datasets import ClassLabel, Features, List, Value
from omegaconf import OmegaConf

from lora_repro.grid.estimate import gpu_hours
from lora_repro.metrics import score
from lora_repro.tasks import (
    TASK_CLASSES,
    TASKS,
    HubSizes,
    Task,
    get_task,
    register_task,
    task_class,
    task_options,
    unregister_task,
)
from lora_repro.tasks.base import generation_example
from lora_repro.tasks.sources import HubSpec
from lora_repro.train.evaluate import decoder_labels

BUILTIN = [
    "mnli", "sst2", "mrpc", "cola", "qnli", "qqp", "rte", "stsb", "mnli_100", "mnli_1k", "mnli_10k",
    "e2e", "webnlg", "dart", "wikisql", "samsum",
]  # fmt: skip
CAPITALS = [
    ("France", "Paris"),
    ("Peru", "Lima"),
    ("Japan", "Tokyo"),
    ("Kenya", "Nairobi"),
    ("Chile", "Santiago"),
]


class ToyParity(Task):
    """Is a number even or odd (classification; decoders generate " even" / " odd")."""

    kind = "classification"
    label_names = ["even", "odd"]
    metric = "glue_sst2"  # accuracy
    select_metric = ("accuracy", "max")
    hub = HubSpec("example/toy-parity")
    features = Features({"number": Value("int32"), "label": ClassLabel(names=["even", "odd"])})
    hub_splits = ["train", "validation", "test"]
    splits = {"train": "train", "validation": "validation", "test": "test"}
    hub_sizes = HubSizes(n_train=1_000, n_val=100, tokens=8, default_epochs=3)

    def generate(self, split: str, n: int, seed: int) -> list[dict]:
        rng = self.rng(split, seed)
        numbers = [rng.randint(0, 999) for _ in range(n)]
        return [{"number": x, "label": x % 2} for x in numbers]

    def format(self, row: dict, family: str = "encoder") -> dict:
        if family == "encoder":
            return {"text": str(row["number"]), "text_pair": None, "target": None, "label": row["label"]}
        target = f" {self.label_names[row['label']]}"
        return {
            "text": f"number: {row['number']}\nparity:",
            "text_pair": None,
            "target": target,
            "label": row["label"],
        }


class ToyCapitals(Task):
    """Question over a small table -> SQL, scored by the wikisql metric; the table is meta "schema"."""

    kind = "generation"
    metric = "wikisql"
    select_metric = ("lf_accuracy", "max")
    hub = HubSpec("example/toy-capitals")
    features = Features(
        {
            "question": Value("string"),
            "table": {
                "header": List(Value("string")),
                "types": List(Value("string")),
                "rows": List(List(Value("string"))),
            },
            "sql": Value("string"),
        }
    )
    hub_splits = ["train", "validation", "test"]
    splits = {"train": "train", "validation": "validation", "test": "test"}
    meta_args = {"schema": "tables"}
    hub_sizes = HubSizes(n_train=500, n_val=50, tokens=20, default_epochs=2, gen_len=10, n_test_inputs=40)

    def generate(self, split: str, n: int, seed: int) -> list[dict]:
        rng = self.rng(split, seed)
        rows = []
        for _ in range(n):
            pairs = rng.sample(CAPITALS, 3)
            country = pairs[0][0]
            table = {
                "header": ["country", "capital"],
                "types": ["text", "text"],
                "rows": [list(p) for p in pairs],
            }
            sql = f"SELECT capital FROM table WHERE country = {country}"
            rows.append({"question": f"What is the capital of {country}?", "table": table, "sql": sql})
        return rows

    def format(self, row: dict, family: str = "decoder") -> dict:
        return generation_example(f"question: {row['question']}\nsql:", " " + row["sql"])

    def eval_groups(self, ds, family: str = "decoder") -> list[dict]:
        return [
            {"text": self.format(r)["text"], "references": [r["sql"]], "meta": {"schema": r["table"]}}
            for r in ds
        ]


TOY_CONFIG = "source: null\nseed: 0\ntiny: {n_train: 8, n_validation: 4, n_test: 4}\n"


@pytest.fixture
def toy_tasks(tmp_path, monkeypatch):
    """Register the two fixture tasks and give them configs; unregister them afterwards."""
    import lora_repro.config

    (tmp_path / "configs" / "task").mkdir(parents=True)
    for name in ("toy_parity", "toy_capitals"):
        (tmp_path / "configs" / "task" / f"{name}.yaml").write_text(f"name: {name}\n{TOY_CONFIG}")
    monkeypatch.setattr(lora_repro.config, "config_dir", lambda: tmp_path / "configs")
    register_task("toy_parity")(ToyParity)
    register_task("toy_capitals")(ToyCapitals)
    try:
        yield
    finally:
        unregister_task("toy_parity")
        unregister_task("toy_capitals")


def test_builtin_tasks_are_registered_in_order_and_each_has_a_config():
    from lora_repro.config import group_options

    assert TASKS == BUILTIN
    assert list(TASK_CLASSES) == BUILTIN
    assert sorted(group_options("task")) == sorted(BUILTIN)
    assert task_class("mnli_1k") is task_class("mnli_10k")  # one class, registered under three names
    assert task_class("mnli_1k") is not task_class("mnli")


def test_a_fixture_task_loads_formats_and_parses_through_the_registry(toy_tasks, cache_dir):
    assert TASKS[-2:] == ["toy_parity", "toy_capitals"]
    assert task_options("toy_parity") == {"seed": 0, "tiny": {"n_train": 8, "n_validation": 4, "n_test": 4}}
    task = get_task("toy_parity", cache_dir=cache_dir)
    assert isinstance(task, ToyParity) and task.name == "toy_parity" and task.num_labels == 2
    train = task.load("train")
    assert len(train) == 8 and len(task.load("test")) == 4
    assert all(r["label"] == r["number"] % 2 for r in train)
    assert get_task("toy_parity", tiny={"n_train": 3}, cache_dir=cache_dir).load("train").num_rows == 3
    assert task.format({"number": 7, "label": 1}, "decoder")["target"] == " odd"
    assert [task.parse_generated_label(t) for t in [" odd", " even and", "odd", " seven", "", "  "]] == [
        1, 0, 1, -1, -1, -1,
    ]  # fmt: skip


def test_decoder_labels_read_a_fixture_task_back(toy_tasks, monkeypatch):
    """evaluate.decoder_labels asks the task to parse what the decoder generated."""
    import lora_repro.train.generation as generation

    task = get_task("toy_parity")
    items = [task.format({"number": x, "label": x % 2}, "decoder") for x in (4, 7, 9)]
    answers = {
        "number: 4\nparity:": " even.",
        "number: 7\nparity:": " odd and",
        "number: 9\nparity:": " prime",
    }

    class CharTokenizer:
        bos_token_id = eos_token_id = 0

        def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
            return {"input_ids": [ord(c) for c in text]}

    def fake_generate(model, tokenizer, prompts, beam, batch_size, **kw):
        return [answers["".join(chr(i) for i in p[:-1])] for p in prompts]

    monkeypatch.setattr(generation, "generate_texts", fake_generate)
    acc = SimpleNamespace(num_processes=1, process_index=0)
    cfg = OmegaConf.create(
        {"train": {"max_length": 64}, "eval": {"batch_size": 2, "decoder_labels": "generate"}}
    )
    preds, texts = decoder_labels(acc, None, CharTokenizer(), task, items, cfg)
    assert texts == [" even.", " odd and", " prime"]
    assert preds == [-1, 1, -1]  # " even." is not the word "even"; " prime" names no class


def test_a_fixture_task_s_own_meta_reaches_its_metric(toy_tasks, cache_dir):
    task = get_task("toy_capitals", cache_dir=cache_dir)
    ds = task.load("test")
    groups = task.eval_groups(ds)
    kw = task.metric_kwargs(groups)
    assert kw == {"tables": [r["table"] for r in ds]}  # meta "schema" -> the metric's "tables"
    refs = [g["references"] for g in groups]
    assert score(task.metric, [r[0] for r in refs], refs, **kw) == {
        "lf_accuracy": 100.0,
        "ex_accuracy": 100.0,
    }
    wrong = [r[0].replace("SELECT capital", "SELECT country") for r in refs]
    assert score(task.metric, wrong, refs, **kw) == {"lf_accuracy": 0.0, "ex_accuracy": 0.0}


def test_estimate_reads_a_fixture_task_s_hub_sizes(toy_tasks):
    n, theta = 10**6, 10**3
    est = gpu_hours(n, theta, "toy_parity", tflops=1.0)  # default epochs 3, no generation
    flops = 3 * 1000 * 8 * (4 * n + 2 * theta) + 3 * 100 * 8 * 2 * n
    assert est.train_tokens == 3 * 1000 * 8
    assert est.gpu_hours == pytest.approx(flops / 1e12 / 3600)
    gen = gpu_hours(n, theta, "toy_capitals", epochs=1, tflops=1.0)
    flops = 500 * 20 * (4 * n + 2 * theta) + 50 * 20 * 2 * n + 40 * 10 * 10 * 2 * n  # + 40 inputs x 10 beams
    assert gen.gpu_hours == pytest.approx(flops / 1e12 / 3600)


def test_estimate_knows_no_size_for_unsized_or_unregistered_tasks():
    # an MNLI-n subset has MNLI's sizes with its own number of training rows (1,000 x 40 tokens)
    assert gpu_hours(1, 1, "mnli_1k", epochs=1).train_tokens == 1_000 * 40
    with pytest.raises(ValueError, match=r"no size known for task 'toy_parity'; known: \['cola', 'dart'"):
        gpu_hours(1, 1, "toy_parity")  # the fixture task is unregistered outside its fixture


def test_builtin_hub_sizes_are_the_estimate_s_numbers():
    # (train examples, validation examples, tokens per example, default epochs, generated tokens, test inputs)
    expected = {
        "mnli": (392_702, 19_647, 40, 30, 0, 0),
        "sst2": (67_349, 872, 25, 60, 0, 0),
        "mrpc": (3_668, 408, 50, 30, 0, 0),
        "cola": (8_551, 1_043, 12, 80, 0, 0),
        "qnli": (104_743, 5_463, 50, 25, 0, 0),
        "qqp": (363_846, 40_430, 30, 25, 0, 0),
        "rte": (2_490, 277, 70, 80, 0, 0),
        "stsb": (5_749, 1_500, 30, 40, 0, 0),
        "e2e": (42_061, 4_672, 60, 5, 30, 630),
        "webnlg": (18_025, 2_258, 70, 5, 40, 1_862),
        "dart": (62_659, 6_980, 70, 5, 40, 5_097),
        "wikisql": (56_355, 8_421, 200, 2, 0, 0),
        "samsum": (14_732, 818, 500, 2, 0, 0),
    }
    got = {}
    for name in BUILTIN:
        s = task_class(name).hub_sizes
        if s is not None:
            got[name] = (s.n_train, s.n_val, s.tokens, s.default_epochs, s.gen_len, s.n_test_inputs)
    assert got == expected


def test_builtin_label_parsing():
    mnli, stsb = get_task("mnli"), get_task("stsb")  # entailment, neutral, contradiction
    texts = [" neutral", " contradiction x", "entailment", " maybe", ""]
    assert [mnli.parse_generated_label(t) for t in texts] == [
        1, 2, 0, -1, -1,
    ]  # fmt: skip
    assert [stsb.parse_generated_label(t) for t in [" 3.5", " 4 out of 5", " none", ""]] == [
        3.5,
        4.0,
        0.0,
        0.0,
    ]
    with pytest.raises(ValueError, match="e2e is a generation task"):
        get_task("e2e").parse_generated_label(" a pub")


def test_builtin_metric_kwargs_follow_each_task_s_meta_args():
    meta = {"category": "Airport", "seen": True, "table": {"header": ["a"]}, "eid": "Id1"}
    groups = [
        {"text": "x", "references": ["r"], "meta": meta},
        {"text": "y", "references": ["s"], "meta": meta},
    ]
    webnlg = {"categories": ["Airport", "Airport"], "seen": [True, True]}
    assert get_task("webnlg").metric_kwargs(groups) == webnlg
    assert get_task("wikisql").metric_kwargs(groups) == {"tables": [{"header": ["a"]}] * 2}
    for name in ("e2e", "dart", "samsum", "mnli"):
        assert get_task(name).metric_kwargs(groups) == {}
    assert get_task("webnlg").metric_kwargs([]) == {}


def test_unknown_task_is_one_line_naming_the_allowed_ones():
    for call in (get_task, task_options, task_class):
        with pytest.raises(ValueError) as err:
            call("nope")
        assert str(err.value) == f"unknown task 'nope'; allowed: {BUILTIN}"


def test_duplicate_or_non_task_registration_is_refused():
    mnli = task_class("mnli")
    with pytest.raises(ValueError, match=r"task 'mnli' is already registered \(lora_repro\.tasks\.glue\."):
        register_task("mnli")(ToyParity)
    assert task_class("mnli") is mnli and TASKS.count("mnli") == 1
    with pytest.raises(TypeError, match="needs a Task subclass"):
        register_task("toy_dict")(dict)
    assert "toy_dict" not in TASKS


def test_register_then_unregister():
    register_task("toy_unconfigured")(ToyParity)
    try:
        assert "toy_unconfigured" in TASKS and task_class("toy_unconfigured") is ToyParity
        with pytest.raises(
            ValueError, match="registered but has no config file configs/task/toy_unconfigured"
        ):
            get_task("toy_unconfigured")
        with pytest.raises(ValueError, match="'toy_unconfigured' is already registered"):
            register_task("toy_unconfigured")(ToyCapitals)
    finally:
        assert unregister_task("toy_unconfigured") is ToyParity
    assert "toy_unconfigured" not in TASKS and "toy_unconfigured" not in TASK_CLASSES
    with pytest.raises(ValueError, match="unknown task 'toy_unconfigured'"):
        get_task("toy_unconfigured")
