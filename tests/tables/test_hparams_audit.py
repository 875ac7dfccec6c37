"""Hyperparameter tables as an audit: Table 2's cells resolve to Table 9's values, every difference named."""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import pytest

from lora_repro.grid import cli
from lora_repro.grid.cells import cell_overrides
from lora_repro.grid.hparams import audit
from lora_repro.tables.hparams import AuditCell, judge, load_hparams_spec, parse_hparams_spec
from lora_repro.tables.hparams_render import to_markdown
from lora_repro.tables.spec import load_spec, select_rows
from lora_repro.train.cell import cell_config

HPARAMS_TABLES = ("9", "10", "11", "12", "17")


def table2_cell(method: dict, task: str, profile: str = "paper"):
    """The resolved config of Table 2's row with this method, exactly as the grid composes the cell."""
    spec = load_spec("2")
    (index,) = select_rows(spec, {"model": "roberta-large", "method": method})
    return cell_config(cell_overrides(spec, spec.rows[index], task, 1, profile, Path("runs")))


@pytest.mark.parametrize(
    "method,task,lr,epochs",
    [
        ({"name": "adapter_h", "r": 8}, "mnli", 3e-4, 10),  # Table 9 Adpt^H (0.8M)†: lr 3e-4 on every task
        ({"name": "adapter_p", "r": 16}, "mnli", 3e-4, 5),  # Adpt^P (0.8M)†: MNLI 5 epochs
        ({"name": "adapter_p", "r": 16}, "sst2", 3e-4, 20),
        ({"name": "adapter_h", "r": 64}, "mnli", 3e-5, 10),  # the 6M row keeps its own 3e-5
        ({"name": "adapter_p", "r": 64}, "sst2", 3e-5, 20),
    ],
)
def test_table2_adapter_rows_resolve_to_table9(method, task, lr, epochs):
    cfg = table2_cell(method, task)
    assert (cfg.train.lr, cfg.train.epochs, cfg.method.r) == (lr, epochs, method["r"])
    assert (cfg.train.batch_size, cfg.train.max_length) == (32, 128)


def test_the_tiny_profile_keeps_the_variant_learning_rate():
    cfg = table2_cell({"name": "adapter_h", "r": 8}, "mnli", profile="tiny")
    assert cfg.train.lr == 3e-4 and cfg.train.lr_scale == 10


def _row(md: str, block: str, item: str) -> tuple[list[str], list[str]]:
    """The ours and paper cells of ``item`` in ``block`` of a rendered audit."""
    section = md.split(f"## {block}\n", 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("|")]
    for i, ln in enumerate(lines):
        cells = [c.strip() for c in ln.strip("|").split("|")]
        if cells[0] == item:
            paper = [c.strip() for c in lines[i + 1].strip("|").split("|")]
            return cells[2:], paper[2:]
    raise AssertionError(f"no item {item!r} in block {block!r}")


def test_table_9_shows_adapter_h_r8_learning_rate_beside_the_papers(tmp_path, capsys):
    assert cli.main(["9", f"out={tmp_path}"]) == 0
    md = (tmp_path / "table9.md").read_text()
    assert "(profile `paper`" in md  # the default profile of hyperparameter tables
    ours, paper = _row(md, "RoB-large Adpt^H (0.8M)†", "Learning rate")
    assert ours[0] == "3.0e-04" and paper[0] == "3.0e-04"  # MNLI
    ours, paper = _row(md, "RoB-large Adpt^P (0.8M)†", "# Epochs")
    assert (ours[0], paper[0]) == ("5", "5")
    rows = list(csv.DictReader((tmp_path / "table9.csv").open()))
    assert rows and not [r for r in rows if r["source"] == "undocumented"]
    assert {r["status"] for r in rows} <= {"same", "unprinted"}  # Table 2's RoBERTa cells are Table 9's


@functools.cache
def paper_audit(table: str):
    """(checks, cells) of a hyperparameter table in the paper profile (composed once per test session)."""
    return audit(load_hparams_spec(table), "paper")


@pytest.mark.slow
@pytest.mark.parametrize("table", [t for t in HPARAMS_TABLES if t != "9"])  # 9: the CLI test above
def test_every_cell_of_every_hparams_table_is_the_papers_or_says_why(table):
    checks, cells = paper_audit(table)
    assert cells, f"table {table} found no cell"
    bad = [(c.block.label, c.item.key, c.task, c.ours, c.paper) for c in checks if c.source == "undocumented"]
    assert bad == []


@pytest.mark.slow
def test_table_10_names_the_reference_rank():
    checks, _ = paper_audit("10")
    r = [c for c in checks if c.item.key == "method.r"]
    assert {(c.status, c.source) for c in r} == {("differs", "reference")}
    assert all(c.ours == [16] and c.paper == 8 for c in r)  # Table 2's 4.7M is r=16; Table 10 prints 8


SPEC = {
    "table": 99, "kind": "hparams", "title": "t",
    "tasks": [{"task": "a", "label": "A"}, {"task": "b", "label": "B"}],
    "common_items": [{"key": "train.wd", "label": "WD"}],
    "blocks": [{
        "label": "X", "rows": [{"table": 2}],
        "items": [{"key": "train.lr", "label": "LR", "times": "train.lr_scale", "paper": {"a": 1e-4, "b": 2e-4}},
                  {"key": "train.bs", "label": "Batch", "paper": 8},
                  {"key": "method.r", "label": "r", "paper": 4}],
        "notes": [{"item": "method.r", "tasks": ["b"], "source": "reference", "why": "the scripts"},
                  {"item": "train.wd", "source": "ours", "why": "none printed"}],
    }],
}  # fmt: skip


def cfg(lr: float, bs: int, r: int, *, tiny: bool = False, scale: float = 1) -> dict:
    profile = {"name": "tiny", "scale": {"train": {"bs": 16, "lr_scale": 10}}} if tiny else {"name": "paper"}
    return {"train": {"lr": lr, "lr_scale": scale, "bs": bs, "wd": 0.1}, "method": {"name": "m", "r": r},
            "profile": profile}  # fmt: skip


def by(checks, key, task):
    (c,) = [c for c in checks if c.item.key == key and c.task == task]
    return c


def test_judge_names_each_source():
    spec = parse_hparams_spec(SPEC)
    checks = judge(
        spec, [AuditCell(0, "a", "T2 X", cfg(1e-4, 8, 8)), AuditCell(0, "b", "T2 X", cfg(2e-4, 8, 8))]
    )
    assert (by(checks, "train.lr", "a").status, by(checks, "train.lr", "a").source) == ("same", "paper")
    assert by(checks, "method.r", "b").source == "reference"  # documented for task b only
    assert (by(checks, "method.r", "a").status, by(checks, "method.r", "a").source) == (
        "differs",
        "undocumented",
    )
    assert (by(checks, "train.wd", "a").status, by(checks, "train.wd", "a").source) == ("unprinted", "ours")
    md = to_markdown(spec, checks, [], _prov())
    assert "8 ≠ (undocumented)" in md and "8 ≠ (reference)" in md and "1 undocumented" in md


def test_judge_attributes_the_tiny_profile_and_the_lr_scale():
    spec = parse_hparams_spec(SPEC)
    cells = [AuditCell(0, "a", "T2 X", cfg(1e-4, 16, 4, tiny=True, scale=10))]
    checks = judge(spec, cells)
    lr = by(checks, "train.lr", "a")
    assert lr.ours == [pytest.approx(1e-3)] and (lr.status, lr.source) == ("differs", "tiny")
    assert "train.lr_scale" in lr.why
    assert by(checks, "train.bs", "a").source == "tiny"
    assert by(checks, "method.r", "a").status == "same"
    assert by(checks, "method.r", "b").status == "missing"  # no cell for task b


def test_several_values_of_one_item_are_all_shown():
    spec = parse_hparams_spec(SPEC)
    cells = [AuditCell(0, "a", "row 1", cfg(1e-4, 8, 4)), AuditCell(0, "a", "row 2", cfg(1e-4, 8, 2))]
    r = by(judge(spec, cells), "method.r", "a")
    assert r.ours == [4, 2] and r.status == "differs"


def _prov():
    from lora_repro.tables.hparams_render import HparamsProvenance

    return HparamsProvenance("lora-repro table 99", "paper", "abc")


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda s: s["blocks"][0]["notes"].append({"item": "method.r", "source": "vibes", "why": "x"}),
         "source='vibes'; allowed"),
        (lambda s: s["blocks"][0]["notes"].append({"item": "train.nope", "source": "ours", "why": "x"}),
         "notes name items \\['train.nope'\\]"),
        (lambda s: s["blocks"][0].update(rows=[{"model": "x"}]), "needs 'table'"),
        (lambda s: s.update(tasks=[]), "missing key 'tasks'"),
    ],
)  # fmt: skip
def test_bad_hparams_specs_are_refused_in_one_line(change, message):
    import copy

    raw = copy.deepcopy(SPEC)
    change(raw)
    with pytest.raises(ValueError, match=message):
        parse_hparams_spec(raw)


@pytest.mark.parametrize("argv,message", [(["9", "--dry-run"], "hyperparameter table"),
                                          (["9", "profile=gpu"], "profile='gpu'"),
                                          (["9", "train.lr=1"], "hyperparameter table")])  # fmt: skip
def test_bad_arguments_of_an_hparams_table(argv, message):
    with pytest.raises(ValueError, match=message):
        cli.main(argv)
