"""`lora-repro figure N` end to end on a local random GPT-2 with fake cells (tests/analysis/fake_lora_cell.py).

The cells resolve with the trainer's own resolver (their run directories are the real config hashes)
and run through the grid's launcher; the fake cell saves adapters whose structure is known, so the
figure's numbers can be checked against it rather than against the code that computes them.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest
import torch

from lora_repro.figures import cli
from lora_repro.figures.cells import width_overrides
from lora_repro.figures.spec import load_spec, parse_spec
from lora_repro.grid.cells import overrides_hash

FAKE = Path(__file__).resolve().parent / "fake_lora_cell.py"


def save_base(path: Path, seed: int = 0) -> Path:
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    torch.manual_seed(seed)
    GPT2LMHeadModel(
        GPT2Config(
            vocab_size=8, n_positions=16, n_embd=96, n_layer=3, n_head=4, bos_token_id=2, eos_token_id=2
        )
    ).save_pretrained(path)
    tok = Tokenizer(WordLevel({"<pad>": 0, "<unk>": 1, "hello": 2}, unk_token="<unk>"))
    tok.pre_tokenizer = Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>").save_pretrained(path)
    return path


class Recorder:
    """The fake cell's command line, recording which cells ran."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def __call__(self, cell) -> list[str]:  # noqa: ANN001
        self.ran.append(cell.name)
        return [sys.executable, str(FAKE), *cell.overrides]


def argv(tmp_path: Path, *extra: str) -> list[str]:
    base = tmp_path / "base"
    return [*extra, f"runs={tmp_path / 'runs'}", f"out={tmp_path / 'results'}", "progress=false",
            f"model.path={base}", "jobs=1"]  # fmt: skip


def read_csv(path: Path) -> list[dict[str, str]]:
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


def phi_at(rows, target, pair_has, i=1, j=1) -> float:  # noqa: ANN001
    hits = [
        r
        for r in rows
        if r["target"] == target and pair_has in r["pair"] and (r["i"], r["j"]) == (str(i), str(j))
    ]
    assert len(hits) == 1, hits
    return float(hits[0]["phi"])


@pytest.mark.slow
def test_figure3_then_table7_run_only_missing_cells_and_show_the_shared_direction(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save_base(tmp_path / "base")
    run = Recorder()
    assert cli.main(argv(tmp_path, "3"), command=run) == 0
    assert sorted(run.ran) == ["gpt3-175b/wikisql/lora/seed1"] * 2  # r=8 and r=64
    out = tmp_path / "results" / "figures"
    assert all((out / f"figure3.{ext}").stat().st_size > 1000 for ext in ("png", "pdf", "csv"))
    rows = read_csv(out / "figure3.csv")
    assert {r["layer"] for r in rows} == {"2"}  # the middle of 3 layers (1-based)
    assert phi_at(rows, "q", "r=8") > 0.95 and phi_at(rows, "v", "r=8") > 0.95  # the shared direction
    assert phi_at(rows, "-", "random") < 0.2  # two Gaussian matrices: E = 1/96
    assert phi_at(rows, "q", "r=8", 8, 64) == pytest.approx(64 / 96, abs=0.15)  # at toy width, chance is 2/3
    assert "d = 96" in (out / "figure3.csv").read_text()

    # Table 7 shares the r=64 cell: only r=4 runs
    assert cli.main(argv(tmp_path, "table7"), command=run) == 0
    assert len(run.ran) == 3
    text = (tmp_path / "results" / "table7.md").read_text()
    assert "21.50" in text and "61.95" in text  # the paper's numbers beside ours
    amp = [r for r in read_csv(tmp_path / "results" / "table7.csv") if r["quantity"] == "amplification"]
    assert [r["r"] for r in amp] == ["4", "64"]
    assert float(amp[0]["ours"]) > 10  # B puts A's direction into W_q's weakest output direction
    assert "amplification ≫ 1" in text and "holds" in text

    # Figure 8 reads the same two cells; ΔW_q's top output direction is W_q's weakest (the fake's B)
    assert cli.main(argv(tmp_path, "8"), command=run) == 0
    assert len(run.ran) == 3
    rows8 = read_csv(out / "figure8.csv")
    assert phi_at(rows8, "q", "ΔW_q (r=4)", 1, 95) < 0.05  # outside W_q's top 95 directions
    assert phi_at(rows8, "q", "ΔW_q (r=4)", 1, 96) == pytest.approx(1.0)  # all 96 span the space

    # the base model changes under the finished cells: the adapters are refused, in one line
    save_base(tmp_path / "base", seed=5)
    with pytest.raises(ValueError, match="trained on another base model"):
        cli.main(argv(tmp_path, "3"), command=run)
    assert len(run.ran) == 3  # nothing reran


@pytest.mark.slow
def test_a_cell_that_holds_another_rank_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FAKE_RANKS", "8:4")
    save_base(tmp_path / "base")
    with pytest.raises(ValueError, match=r"adapter has LoRA rank r=4; this analysis needs r=8"):
        cli.main(argv(tmp_path, "3"), command=Recorder())


def test_run_false_names_the_missing_cells_and_the_command(tmp_path, capsys):
    from lora_repro.cli import main

    save_base(tmp_path / "base")
    assert main(["figure", *argv(tmp_path, "4", "run=false")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("lora-repro figure: error: ")
    assert "figure 4: 2 cell(s) not done: gpt3-175b/wikisql/lora/seed1 [" in err
    assert "gpt3-175b/wikisql/lora/seed2" in err and "run them with: lora-repro figure 4 runs=" in err


def fake_resolver(overrides):  # noqa: ANN001
    return overrides_hash(overrides), {}


def test_figure2_says_which_table15_cells_to_run(tmp_path):
    with pytest.raises(
        ValueError, match=r"Table 15's \d+ cell\(s\) not done: .*run them with: lora-repro table 15"
    ):
        cli.main(["2", f"runs={tmp_path}", "progress=false"], resolver=fake_resolver)


def test_dry_run_lists_the_figures_cells(tmp_path, capsys):
    assert cli.main(["7", "--dry-run", f"runs={tmp_path}"], resolver=fake_resolver) == 0
    out = capsys.readouterr().out
    assert "figure7: 2 cells, 0 done, 2 to run" in out and "method.r=64" in out


def test_width_is_an_override_of_the_tiny_stand_in_only():
    spec = load_spec("3")
    assert width_overrides(spec, "tiny", 384) == ["model.tiny.hf_config.n_embd=384"]
    assert width_overrides(spec, "tiny", None) == []
    with pytest.raises(ValueError, match="width=384 sets the tiny stand-in's width; profile 'paper'"):
        width_overrides(spec, "paper", 384)
    with pytest.raises(ValueError, match=r"width='wide': expected an integer >= 8"):
        width_overrides(spec, "tiny", "wide")


def test_every_figure_spec_loads_and_names_its_cells():
    for name, kind in [("2", "accuracy"), ("3", "subspace"), ("4", "subspace"), ("5", "bench"), ("6", "subspace"),
                       ("7", "subspace"), ("8", "directions"), ("table7", "table7")]:  # fmt: skip
        assert load_spec(name).kind == kind
    assert load_spec("6").layers == ("first", "third", "two_thirds", "last")
    assert load_spec("table7").paper["columns"]["r4"]["amplification"] == 21.5


@pytest.mark.parametrize(
    ("raw", "match"),
    [({"kind": "pie"}, r"kind='pie' not allowed; allowed: \['subspace'"),
     ({"kind": "subspace", "cells": {"r8": {"method": {"name": "lora"}}}, "pairs": [{"a": ["r8", 1], "b": ["r9", 1]}]},
      r"pairs\[0\].b=\['r9', 1\]: no such cell and seed; allowed: \[\['r8', 1\]\]"),
     ({"kind": "subspace", "i_max": 0}, r"i_max=0: expected an integer >= 1")],
)  # fmt: skip
def test_bad_specs_are_one_clear_error(raw, match):
    with pytest.raises(ValueError, match=match):
        parse_spec(raw)


def test_an_unknown_figure_lists_the_allowed_ones():
    with pytest.raises(ValueError, match=r"unknown figure '9'; allowed: \['2', '3'"):
        cli.main(["9"])


def test_figure_prints_its_usage_for_help(capsys):
    from lora_repro.cli import main

    assert main(["figure", "--help"]) == 0
    out = capsys.readouterr().out
    assert "lora-repro figure" in out and "usage" in out and "table7" in out


def test_figure2_caption_names_the_table15_rows_the_profile_skips():
    from lora_repro.figures.accuracy import skipped_rows_note
    from lora_repro.grid.profile_spec import for_profile
    from lora_repro.tables.spec import load_spec as load_table

    full = load_table("15")
    note = skipped_rows_note("15", full, "tiny")
    assert note == (
        "Not in this profile's Table 15: PrefixEmbed l_p=512, l_i=8 skipped: "
        "l_p + l_i > 376 (tiny positions 512 - input 96 - output 40)."
    )
    assert for_profile(full, "tiny").title == full.title + " [" + note.split(": ", 1)[1][:-1] + "]"
    assert skipped_rows_note("15", full, "paper") is None
    assert skipped_rows_note("18", load_table("18"), "tiny") == (
        "Not in this profile's Table 18: r=128..1024 skipped: tiny width 64."
    )


def test_figure2_plots_table15s_own_numbers_not_the_epoch_picking_subset(tmp_path):
    # every tiny Table 15 cell done: test role (the hub's validation split, what Table 15 reports)
    # and validation role (the epoch-picking subset: loss only for WikiSQL) hold different numbers
    from lora_repro import rundir
    from lora_repro.grid import cli as grid_cli

    runs, out = tmp_path / "runs", tmp_path / "out"
    own = {**grid_cli.OWN, "profile": "tiny", "runs": str(runs)}
    grid = grid_cli.build_grid("15", own, [], resolver=fake_resolver)
    assert len(grid.cells) == 58
    for i, cell in enumerate(grid.cells):
        test = {"lf_accuracy": 10.0 + i} if cell.task == "wikisql" else {"accuracy": 40.0 + i}
        valid = {"loss": 0.7} if cell.task == "wikisql" else {"loss": 0.7, "accuracy": 99.0}
        cell.run_dir.mkdir(parents=True)
        rundir.write_result(cell.run_dir, {
            "config_hash": None, "params": {"adapter": 1000 + i}, "validation": valid, "test": test,
            "wall_time_s": 1.0,
        })  # fmt: skip
    assert cli.main(["2", f"runs={runs}", f"out={out}", "progress=false"], resolver=fake_resolver) == 0
    lines = (out / "figures" / "figure2.csv").read_text().splitlines()
    assert "# Not in this profile's Table 15: PrefixEmbed l_p=512, l_i=8 skipped" in "\n".join(lines)
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    assert len(rows) == 58 and {r["task"] for r in rows} == {"WikiSQL", "MNLI_m"}
    expected = [(10.0 if c.task == "wikisql" else 40.0) + i for i, c in enumerate(grid.cells)]
    ours = sorted(float(r["ours_value"]) for r in rows)
    assert ours == sorted(expected)  # the test role's numbers, never 99.0 or empty
    assert (out / "figures" / "figure2.png").is_file() and (out / "figures" / "figure2.pdf").is_file()
