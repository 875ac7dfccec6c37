"""Claims as data: a verdict follows from a fixed set of result.json files (holds, does not hold, not enough)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lora_repro.grid import claims_cli
from lora_repro.grid.cells import expand, overrides_hash
from lora_repro.tables.aggregate import collect
from lora_repro.tables.claims import (
    FAILS,
    HOLDS,
    NOT_ENOUGH,
    cells_from_csv,
    cells_from_results,
    claim_files,
    judge,
    load_claims,
    parse_claims,
)
from lora_repro.tables.render import Provenance, to_csv
from lora_repro.tables.spec import load_spec, parse_spec


def resolver(overrides):
    return overrides_hash(overrides), {}


SPEC = {
    "table": 98, "title": "claims test", "aggregate": "mean", "seeds": [1, 2, 3],
    "columns": [{"key": "BLEU", "task": "e2e", "metric": "BLEU"}],
    "rows": [
        {"label": "FT", "model": "gpt2-medium", "method": {"name": "ft"}, "paper": {"values": {"BLEU": 68.2}}},
        {"label": "LoRA", "model": "gpt2-medium", "method": {"name": "lora", "r": 4}, "paper": {"values": {"BLEU": 70.4}}},
        {"label": "PreLayer", "model": "gpt2-medium", "method": {"name": "prelayer"}, "paper": {"values": {"BLEU": 69.7}}},
        {"label": "Adapter", "model": "gpt2-medium", "method": {"name": "adapter_l"}, "paper": {"values": {"BLEU": 66.3}}},
    ],
}  # fmt: skip
# BLEU per (row, seed); the Adapter row lacks seed 3
BLEU = {(0, 1): 60.0, (0, 2): 62.0, (0, 3): 64.0, (1, 1): 61.8, (1, 2): 61.6, (1, 3): 61.9,
        (2, 1): 65.0, (2, 2): 66.0, (2, 3): 67.0, (3, 1): 50.0, (3, 2): 52.0}  # fmt: skip


def claim(cid, lhs, op, rhs, tol):
    return {"id": cid, "text": cid, "lhs": {"rows": [{"label": lhs}], "columns": ["BLEU"]}, "op": op,
            "rhs": {"rows": [{"label": r} for r in rhs], "columns": ["BLEU"], "reduce": "max"}, "tolerance": tol}  # fmt: skip


CLAIMS = {"table": 98, "claims": [
    claim("lora-vs-ft", "LoRA", ">=", ["FT"], 0.5),  # 61.77 vs 62.0: holds only within the tolerance
    claim("lora-vs-prelayer", "LoRA", ">=", ["PreLayer"], 0.5),  # 61.77 vs 66.0
    claim("lora-vs-all", "LoRA", ">=", ["Adapter", "FT"], 0.5),  # the Adapter row lacks a seed
    claim("lora-beats-ft", "LoRA", ">", ["FT"], 0.5),  # ours 61.77 is not above 62.5
]}  # fmt: skip


def write_results(spec, tmp_path: Path, bleu: dict) -> dict:
    grid = expand(spec, "tiny", resolver=resolver, runs_root=tmp_path / "runs")
    for (row, seed), value in bleu.items():
        run = grid.cell(grid.slots[(row, "e2e", seed)]).run_dir
        run.mkdir(parents=True)
        (run / "result.json").write_text(json.dumps({"params": {"adapter": 10}, "test": {"BLEU": value}}))
        (run / "DONE").write_text("")
    return collect(spec, grid.seeds, grid.run_dirs())


def test_verdicts_follow_from_result_files(tmp_path):
    spec = parse_spec(SPEC)
    cells = cells_from_results(write_results(spec, tmp_path, BLEU))
    verdicts = {c.id: judge(c, spec, cells) for c in parse_claims(CLAIMS)}
    assert verdicts["lora-vs-ft"].ours == HOLDS
    assert verdicts["lora-vs-ft"].ours_lhs == pytest.approx((61.8 + 61.6 + 61.9) / 3)
    assert verdicts["lora-vs-prelayer"].ours == FAILS
    assert verdicts["lora-vs-all"].ours == NOT_ENOUGH and verdicts["lora-vs-all"].missing == ["Adapter: BLEU"]
    assert verdicts["lora-beats-ft"].ours == FAILS
    # the paper's own numbers: 70.4 >= 68.2, 70.4 >= 69.7, 70.4 >= max(66.3, 68.2); 70.4 > 68.2 + 0.5
    assert {v.paper for v in verdicts.values()} == {HOLDS}


def test_the_csv_gives_the_same_verdicts_as_the_run_directories(tmp_path):
    spec = parse_spec(SPEC)
    results = write_results(spec, tmp_path, BLEU)
    text = to_csv(spec, results, Provenance("lora-repro table 98", "tiny", "abc", (1, 2, 3)))
    a, b = cells_from_results(results), cells_from_csv(spec, text)
    for c in parse_claims(CLAIMS):
        assert judge(c, spec, a).ours == judge(c, spec, b).ours


def test_one_more_seed_turns_not_enough_into_a_verdict(tmp_path):
    spec = parse_spec(SPEC)
    cells = cells_from_results(write_results(spec, tmp_path, {**BLEU, (3, 3): 70.0}))
    (c,) = [c for c in parse_claims(CLAIMS) if c.id == "lora-vs-all"]
    v = judge(c, spec, cells)
    # max(Adapter (50+52+70)/3 = 57.33, FT 62.0) = 62.0, and LoRA 61.77 >= 62.0 - 0.5
    assert v.ours == HOLDS and v.ours_rhs == pytest.approx(62.0) and v.missing == []


@pytest.mark.parametrize("path", claim_files(), ids=lambda p: p.stem)
def test_every_claim_holds_on_the_papers_own_numbers(path):
    table = path.stem.removeprefix("table")
    spec = load_spec(table)
    claims = load_claims(table)
    assert claims, f"{path} holds no claim"
    for c in claims:
        v = judge(c, spec, {})
        assert (c.id, v.paper, v.ours) == (c.id, HOLDS, NOT_ENOUGH)


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda c: c["claims"][0].update(op="=>"), "op='=>'; allowed"),
        (lambda c: c["claims"][0].update(tolerance=-1), "tolerance=-1"),
        (lambda c: c["claims"][0].pop("rhs"), "missing key 'rhs'"),
        (lambda c: c["claims"][1].update(id="lora-vs-ft"), "duplicate claim id"),
        (lambda c: c["claims"][0]["lhs"].update(reduce="median"), "reduce='median'"),
    ],
)
def test_bad_claim_files_are_refused_in_one_line(change, message):
    import copy

    raw = copy.deepcopy(CLAIMS)
    change(raw)
    with pytest.raises(ValueError, match=message):
        parse_claims(raw)


def test_a_claim_naming_no_row_or_an_unknown_column_is_refused():
    spec = parse_spec(SPEC)
    (c,) = parse_claims({"table": 98, "claims": [claim("x", "LoRA", ">=", ["Nope"], 0)]})
    with pytest.raises(ValueError, match="no row matches"):
        judge(c, spec, {})
    raw = claim("y", "LoRA", ">=", ["FT"], 0)
    raw["lhs"]["columns"] = ["NIST"]
    (c,) = parse_claims({"table": 98, "claims": [raw]})
    with pytest.raises(ValueError, match="unknown columns \\['NIST'\\]"):
        judge(c, spec, {})


def test_claims_command_judges_table_3_from_its_csv(tmp_path):
    spec = load_spec("3")
    # every row BLEU 30, LoRA rows 40 (above every baseline and FT), so all four Table 3 claims hold
    bleu = {
        (i, s): (40.0 if row.method_name == "lora" else 30.0)
        for i, row in enumerate(spec.rows)
        for s in (1, 2, 3)
    }
    grid = expand(spec, "tiny", resolver=resolver, runs_root=tmp_path / "runs")
    for (i, s), v in bleu.items():
        run = grid.cell(grid.slots[(i, "e2e", s)]).run_dir
        run.mkdir(parents=True, exist_ok=True)
        (run / "result.json").write_text(json.dumps({"params": {"adapter": 10}, "test": {"BLEU": v}}))
        (run / "DONE").write_text("")
    results = collect(spec, grid.seeds, grid.run_dirs())
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "table3.csv").write_text(
        to_csv(spec, results, Provenance("x", "tiny", "c0ffee", (1, 2, 3)))
    )
    assert claims_cli.main(["tables=3", f"out={tmp_path / 'out'}"]) == 0
    md = (tmp_path / "out" / "claims.md").read_text()
    assert "4 claims: 4 hold, 0 do not hold, 0 not enough cells" in md
    assert "40.00 vs 30.00: holds" in md and "cells computed at commit c0ffee" in md
    assert claims_cli.main(["tables=2", f"out={tmp_path / 'empty'}"]) == 0  # no table2.csv there
    assert (
        "4 claims: 0 hold, 0 do not hold, 4 not enough cells"
        in (tmp_path / "empty" / "claims.md").read_text()
    )


@pytest.mark.parametrize("argv,message", [(["tables=99"], "no claims for \\['99'\\]"), (["from=disk"], "from='disk'"),
                                          (["profile=gpu"], "profile='gpu'"), (["train.lr=1"], "unknown argument")])  # fmt: skip
def test_bad_arguments_of_the_claims_command(argv, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        claims_cli.main([*argv, f"out={tmp_path}"])
