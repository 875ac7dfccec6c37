"""The GPT-3 tables (4, 5, 6, 15, 16): the audit's r/alpha, Table 12 and 17 values resolved from the
cells, the stand-in in the paper profile, shared cells, the dry runs and the GPU-hour estimate."""

from __future__ import annotations

from pathlib import Path

import pytest

from lora_repro.grid import cli as grid_cli
from lora_repro.grid.cells import cell_overrides, overrides_hash
from lora_repro.grid.estimate import estimate_cell, gpu_hours, sizes_of
from lora_repro.grid.profile_spec import for_profile
from lora_repro.tables.spec import load_spec

ONE_GPU = "facebook/opt-1.3b"


def resolve(*overrides: str):
    from lora_repro.train.cell import cell_config

    return cell_config(list(overrides))


def cell_hash_of(table: str, label: str, task: str, profile: str = "paper", extra: tuple[str, ...] = ()):
    from lora_repro.train.cell import cell_config, cell_hash

    spec = for_profile(load_spec(table), profile)
    rows = [r for r in spec.rows if r.label == label]
    assert len(rows) == 1, f"table {table} has no single row {label!r}"
    overrides = cell_overrides(spec, rows[0], task, 1, profile, Path("runs"))
    return cell_hash(cell_config([*overrides, *extra]))


# -- the audit: r and alpha of every GPT-3 LoRA cell ----------------------------------------------
@pytest.mark.parametrize("task", ["wikisql", "mnli", "samsum"])
def test_the_default_gpt3_lora_cell_is_the_37_7m_row(task):
    # Table 17's MNLI-392K column and App. D.4: r_q=r_v=8; alpha not printed, 8 (docs/tables.md)
    cfg = resolve("profile=paper", "model=gpt3-175b", f"task={task}", "method=lora")
    assert (cfg.method.r, cfg.method.alpha, list(cfg.method.targets)) == (8, 8, ["q", "v"])


@pytest.mark.parametrize(
    ("table", "label", "r", "targets"),
    [
        ("4", None, 2, ["v"]),  # the 4.7M row
        ("15", "LoRA r_q=r_v=1", 1, ["q", "v"]),
        ("15", "LoRA r_q=r_k=r_v=r_o=64", 64, ["q", "k", "v", "o"]),
        ("5", "W_o (r=8)", 8, ["o"]),
        ("6", "W_q r=64", 64, ["q"]),
    ],
)
def test_every_gpt3_lora_row_keeps_the_papers_rank_and_one_alpha(table, label, r, targets):
    spec = load_spec(table)
    row = next(x for x in spec.rows if (label is None and x.method.get("r") == 2) or x.label == label)
    from lora_repro.train.cell import cell_config

    cfg = cell_config(cell_overrides(spec, row, "wikisql", 1, "paper", Path("runs")))
    assert (cfg.method.r, list(cfg.method.targets), cfg.method.alpha) == (r, targets, 8)


# (batch, epochs, lr by method, PreEmbed l_p) of Table 17's MNLI-n columns; warm-up 250,000 tokens
TABLE17 = {
    "mnli_100": (20, 40, {"ft": 5e-6, "preembed": 2e-4, "prelayer": 5e-5, "lora": 2e-4}, 16),
    "mnli_1k": (20, 40, {"ft": 5e-6, "preembed": 2e-4, "prelayer": 5e-5, "lora": 2e-4}, 32),
    "mnli_10k": (100, 4, {"ft": 5e-6, "preembed": 4e-4, "prelayer": 5e-5, "lora": 2e-4}, 64),
    "mnli": (128, 2, {"ft": 5e-6, "preembed": 5e-4, "prelayer": 1e-4, "lora": 2e-4}, 256),
}


@pytest.mark.parametrize("task", list(TABLE17))
@pytest.mark.parametrize("method", ["ft", "preembed", "prelayer", "lora"])
def test_table16_cells_resolve_to_table17(task, method):
    batch, epochs, lrs, l_p = TABLE17[task]
    spec = load_spec("16")
    row = next(r for r in spec.rows if r.method_name == method)
    from lora_repro.train.cell import cell_config

    cfg = cell_config(cell_overrides(spec, row, task, 1, "paper", Path("runs")))
    assert (cfg.train.batch_size, cfg.train.epochs, cfg.train.lr) == (batch, epochs, lrs[method])
    assert (cfg.train.warmup_tokens, cfg.train.max_length) == (250_000, 768)
    if method == "preembed":
        assert (cfg.method.l_p, cfg.method.l_i) == (l_p, 8)
    if method == "prelayer":
        assert (cfg.method.l_p, cfg.method.l_i) == (8, 8)
    if method == "lora":
        assert (cfg.method.r, list(cfg.method.targets)) == (8, ["q", "v"])


# -- Table 4 in the paper profile with a stand-in: Table 12 ---------------------------------------
TABLE12_LR = {
    "ft": 5e-6,
    "preembed": 5e-4,
    "prelayer": 1e-4,
    "bitfit": 1.6e-3,
    "adapter_h": 1e-4,
    "lora": 2e-4,
}
SEQ = {"wikisql": 384, "mnli": 768, "samsum": 2048}


@pytest.mark.parametrize("task", list(SEQ))
def test_a_table4_cell_with_the_stand_in_shows_table12(task):
    spec = load_spec("4")
    for row in spec.rows[::3]:  # FT, PreLayer, the 4.7M LoRA row
        overrides = cell_overrides(spec, row, task, 1, "paper", Path("runs"))
        cfg = resolve(*overrides, f"model.stand_in={ONE_GPU}")
        t = cfg.train
        assert (t.batch_size, t.epochs, t.warmup_tokens, t.weight_decay) == (128, 2, 250_000, 0.1)
        assert (t.max_length, t.lr) == (SEQ[task], TABLE12_LR[row.method_name])
        assert (cfg.model.name, cfg.model.stand_in) == ("gpt3-175b", ONE_GPU)


def test_the_stand_in_preset_names_the_same_cell_as_its_hub_id():
    base = ("profile=paper", "model=gpt3-175b", "task=wikisql", "method=lora")
    from lora_repro.train.cell import cell_hash

    by_preset = resolve(*base, "model.stand_in=${model.stand_ins.one_gpu}")
    by_id = resolve(*base, f"model.stand_in={ONE_GPU}")
    assert by_preset.model.stand_in == ONE_GPU and cell_hash(by_preset) == cell_hash(by_id)
    assert cell_hash(resolve(*base)) != cell_hash(by_id)  # a run on a stand-in is its own cell


# -- shared cells through the hash ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b", "task"),
    [
        (("5", "W_q, W_v (r=4)"), ("6", "W_q, W_v r=4"), "wikisql"),
        (("5", "W_q, W_v (r=4)"), ("15", "LoRA r_q=r_v=4"), "wikisql"),
        (("5", "W_q, W_k, W_v, W_o (r=2)"), ("15", "LoRA r_q=r_k=r_v=r_o=2"), "mnli"),
        (("5", "W_q (r=8)"), ("6", "W_q r=8"), "mnli"),
        (("6", "W_q, W_v r=8"), ("15", "LoRA r_q=r_v=8"), "mnli"),
        (("6", "W_q, W_k, W_v, W_o r=64"), ("15", "LoRA r_q=r_k=r_v=r_o=64"), "wikisql"),
        (("4", "GPT-3 (PreEmbed)"), ("16", "GPT-3 (PrefixEmbed)"), "mnli"),
        (("4", "GPT-3 (FT)"), ("16", "GPT-3 (Fine-Tune)"), "mnli"),
        (("4", "GPT-3 (PreLayer)"), ("16", "GPT-3 (PrefixLayer)"), "mnli"),
    ],
)
def test_identical_rows_of_different_tables_are_one_cell(a, b, task):
    assert cell_hash_of(*a, task) == cell_hash_of(*b, task)


def test_table4_37_7m_lora_is_table16s_full_mnli_lora_and_differs_from_the_4_7m_row():
    spec = load_spec("4")
    big = [r for r in spec.rows if r.paper_trainable == "37.7M"][0]
    small = [r for r in spec.rows if r.paper_trainable == "4.7M"][0]
    from lora_repro.train.cell import cell_config, cell_hash

    h = {r.paper_trainable: cell_hash(cell_config(cell_overrides(spec, r, "mnli", 1, "paper", Path("runs")))) for r in (big, small)}  # fmt: skip
    assert h["37.7M"] == cell_hash_of("16", "GPT-3 (LoRA)", "mnli") != h["4.7M"]


# -- the specs: the paper's numbers -------------------------------------------------------------------
def paper(table: str) -> dict[str, dict[str, float]]:
    return {r.label: r.paper_values for r in load_spec(table).rows}


def test_table5_transcribes_the_papers_ranks_and_numbers():
    spec = load_spec("5")
    got = [
        (r.method["targets"], r.method["r"], r.paper_values["WikiSQL"], r.paper_values["MNLI_m"])
        for r in spec.rows
    ]
    assert got == [
        (["q"], 8, 70.4, 91.0), (["k"], 8, 70.0, 90.8), (["v"], 8, 73.0, 91.0), (["o"], 8, 73.2, 91.3),
        (["q", "k"], 4, 71.4, 91.3), (["q", "v"], 4, 73.7, 91.3), (["q", "k", "v", "o"], 2, 73.7, 91.7),
    ]  # fmt: skip
    assert [c.task for c in spec.columns] == ["wikisql", "mnli"]


def test_table6_transcribes_the_papers_grid():
    p = paper("6")
    wikisql = {"W_q": [68.8, 69.6, 70.5, 70.4, 70.0], "W_q, W_v": [73.4, 73.3, 73.7, 73.8, 73.5],
               "W_q, W_k, W_v, W_o": [74.1, 73.7, 74.0, 74.0, 73.9]}  # fmt: skip
    mnli = {"W_q": [90.7, 90.9, 91.1, 90.7, 90.7], "W_q, W_v": [91.3, 91.4, 91.3, 91.6, 91.4],
            "W_q, W_k, W_v, W_o": [91.2, 91.7, 91.7, 91.5, 91.4]}  # fmt: skip
    assert len(p) == 15
    for kind in wikisql:
        assert [p[f"{kind} r={r}"]["WikiSQL"] for r in (1, 2, 4, 8, 64)] == wikisql[kind]
        assert [p[f"{kind} r={r}"]["MNLI_m"] for r in (1, 2, 4, 8, 64)] == mnli[kind]


def test_table16_transcribes_the_paper_and_names_matched_validation():
    p = paper("16")
    assert p["GPT-3 (Fine-Tune)"] == {"MNLI_100": 60.2, "MNLI_1k": 85.8, "MNLI_10k": 88.9, "MNLI_392k": 89.5}
    assert p["GPT-3 (PrefixEmbed)"] == {
        "MNLI_100": 37.6,
        "MNLI_1k": 75.2,
        "MNLI_10k": 79.5,
        "MNLI_392k": 88.6,
    }
    assert p["GPT-3 (PrefixLayer)"] == {
        "MNLI_100": 48.3,
        "MNLI_1k": 82.5,
        "MNLI_10k": 85.9,
        "MNLI_392k": 89.6,
    }
    assert p["GPT-3 (LoRA)"] == {"MNLI_100": 63.8, "MNLI_1k": 85.6, "MNLI_10k": 89.2, "MNLI_392k": 91.7}
    spec = load_spec("16")
    assert [c.task for c in spec.columns] == ["mnli_100", "mnli_1k", "mnli_10k", "mnli"]
    assert "matched validation" in spec.title


@pytest.mark.parametrize("table", ["4", "5", "6", "15", "16"])
def test_every_mnli_column_is_matched_validation_accuracy(table):
    from lora_repro.tasks import get_task

    for col in load_spec(table).columns:
        if col.task and col.task.startswith("mnli"):
            task = get_task(col.task, profile="paper")
            assert task.splits["test"] == "validation_matched" and col.metric == "accuracy"


def test_the_tiny_budget_of_table5_is_the_same_rank_budget_at_the_tiny_width():
    from lora_repro.methods import apply_method, count_parameters
    from lora_repro.models.build import build_model

    tiny = load_spec("5")
    budgets = set()
    for row in tiny.rows:
        model = build_model("gpt3-175b", device="meta", overrides={"n_embd": 96, "n_layer": 6, "n_head": 4})
        apply_method(model, "lora", r=row.method["r"], targets=row.method["targets"])
        budgets.add(count_parameters(model)["adapter"])
    assert budgets == {6 * 2 * 96 * 8}  # 9,216: layers x (A and B) x width x (r x matrices = 8)
    assert "9,216" in tiny.title


# -- dry runs in both profiles ------------------------------------------------------------------------
def fake_resolver(overrides):
    given = dict(o.split("=", 1) for o in overrides if "=" in o)
    model = {"name": given["model"], "stand_in": given.get("model.stand_in")}
    return overrides_hash(overrides), {"model": model, "train": {"epochs": 2, "batch_size": 128}}


# tiny Table 15: 29 of its 30 rows (PrefixEmbed l_p=512 does not fit the tiny GPT-3's positions) x 2 tasks
CELLS = {"4": 24, "5": 14, "6": 30, "15": 58, "16": 16}


@pytest.mark.parametrize("table", list(CELLS))
def test_dry_run_lists_every_cell_in_the_tiny_profile(table, tmp_path, capsys):
    assert grid_cli.main([table, "--dry-run", f"runs={tmp_path}"], resolver=fake_resolver) == 0
    out = capsys.readouterr().out
    assert f"table {table}: {CELLS[table]} cells, 0 done, {CELLS[table]} to run" in out
    assert "GPU-h" not in out


# OPT-1.3B: 1,315,758,080 weights (by hand in test_the_estimate_counts_the_stand_in); Table 5's budget on it is
# 24 layers x 2 x 2048 x 8 = 786,432 in every cell; Table 16's FT cells train all of it
@pytest.mark.parametrize(
    ("table", "seen", "times"), [("5", "(N=1316.5M, |Θ|=0.79M)", 14), ("16", "(N=1315.8M, |Θ|=1315.76M)", 4)]
)
def test_dry_run_in_the_paper_profile_estimates_the_stand_in(table, seen, times, tmp_path, capsys):
    argv = [table, "--dry-run", "profile=paper", f"runs={tmp_path}", f"model.stand_in={ONE_GPU}"]
    assert grid_cli.main(argv, resolver=fake_resolver) == 0
    out = capsys.readouterr().out
    assert out.count(seen) == times
    assert "N=174" not in out  # not GPT-3 175B's size
    assert "estimated GPU hours to run the missing cells" in out


def test_dry_run_in_the_paper_profile_keeps_every_table15_row(tmp_path, capsys):
    argv = ["15", "--dry-run", "profile=paper", f"runs={tmp_path}", f"model.stand_in={ONE_GPU}"]
    assert grid_cli.main(argv, resolver=fake_resolver) == 0
    assert "table 15: 60 cells, 0 done, 60 to run" in capsys.readouterr().out


def test_dry_run_in_the_paper_profile_without_a_stand_in_estimates_gpt3(tmp_path, capsys):
    argv = ["5", "--dry-run", "profile=paper", f"runs={tmp_path}"]
    assert grid_cli.main(argv, resolver=fake_resolver) == 0
    assert "N=174" in capsys.readouterr().out


# -- the estimate: the stand-in's size and train.max_steps -------------------------------------------
def test_the_estimate_counts_the_stand_in():
    cfg = {"model": {"name": "gpt3-175b", "stand_in": ONE_GPU}, "train": {"epochs": 2, "batch_size": 128}}
    est = estimate_cell("gpt3-175b", {"name": "lora", "r": 8, "targets": ["q", "v"]}, "wikisql", cfg)
    # OPT-1.3B by hand: embeddings 50272 x 2048, positions 2050 x 2048, 24 blocks of 4 (2048^2 + 2048)
    # attention + (2 x 2048 x 8192 + 8192 + 2048) MLP + 2 LayerNorms (4 x 2048), a final LayerNorm
    block = 4 * (2048 * 2048 + 2048) + 2 * 2048 * 8192 + 8192 + 2048 + 4 * 2048
    base = 50272 * 2048 + 2050 * 2048 + 24 * block + 2 * 2048
    assert est.n_trainable == 24 * 2 * 2 * 2048 * 8 and est.n_total - est.n_trainable == base
    gpt3 = estimate_cell("gpt3-175b", {"name": "lora", "r": 8, "targets": ["q", "v"]}, "wikisql", {})
    assert gpt3.n_trainable == 37_748_736 and gpt3.gpu_hours > 100 * est.gpu_hours


def test_the_estimate_respects_max_steps():
    size = sizes_of("wikisql")
    by_steps = gpu_hours(10**9, 10**6, "wikisql", epochs=2, max_steps=100, batch_size=128)
    assert by_steps.train_tokens == 100 * 128 * size.tokens
    assert by_steps.gpu_hours < gpu_hours(10**9, 10**6, "wikisql", epochs=2).gpu_hours
    cfg = {"model": {"name": "gpt3-175b"}, "train": {"epochs": 2, "batch_size": 128, "max_steps": 100}}
    assert estimate_cell("gpt3-175b", {"name": "ft"}, "wikisql", cfg).train_tokens == 100 * 128 * size.tokens
    with pytest.raises(ValueError, match=r"train.max_steps=100 needs train.batch_size"):
        gpu_hours(1, 1, "wikisql", max_steps=100)


def test_the_mnli_subsets_have_an_estimate():
    full, sub = sizes_of("mnli"), sizes_of("mnli_1k")
    assert sub.n_train == 1000 and (sub.n_val, sub.tokens) == (full.n_val, full.tokens)


# -- who played GPT-3, in the table header; the stand-in keys and the cell hash ---------------------
def test_the_table_header_names_the_model_that_played_gpt3():
    from lora_repro.tables.render import Provenance, header_lines

    done = [
        {"config": {"model": {"name": "gpt3-175b", "count_only": True, "stand_in": "facebook/opt-30b"}}},
        {"config": {"model": {"name": "gpt3-175b", "count_only": True, "stand_in": "facebook/opt-30b"}}},
        {"config": {"model": {"name": "roberta-base", "count_only": False}}},
    ]
    played = grid_cli.played_by(done, "paper")
    assert played == ("facebook/opt-30b (as gpt3-175b)",)
    lines = header_lines(
        load_spec("4"), [], Provenance("lora-repro table 4", "paper", "abc", (1,), played_by=played)
    )
    assert "Played by (no public weights): facebook/opt-30b (as gpt3-175b)." in lines
    assert not any(
        line.startswith("Played by")
        for line in header_lines(load_spec("4"), [], Provenance("x", "tiny", "abc", (1,)))
    )


def test_a_stand_in_changes_the_paper_cell_but_not_the_tiny_one():
    label = "GPT-3 (FT)"
    assert cell_hash_of("4", label, "mnli", "tiny") == cell_hash_of(
        "4", label, "mnli", "tiny", ("model.stand_in=facebook/opt-30b",)
    )
    a = cell_hash_of("4", label, "mnli", "paper", ("model.stand_in=facebook/opt-30b",))
    b = cell_hash_of("4", label, "mnli", "paper", (f"model.stand_in={ONE_GPU}",))
    assert a != b
