"""`lora-repro params table=N`: our |Θ| beside the paper's printed # Trainable, rows marked."""

from __future__ import annotations

import pytest

from lora_repro.cli import main
from lora_repro.commands.params_table import (
    TABLES,
    compare,
    count_rows,
    format_like,
    load_table,
    parse_printed,
)

D, L = 12288, 96  # GPT-3 175B


def test_table4_counts_and_marks():
    rows = {(r.label, r.paper): r for r in count_rows(4)}
    expected = {  # (label, printed): (our count from the closed forms, status)
        ("GPT-3 (FT)", "175,255.8M"): (L * (12 * D * D + 13 * D) + (50257 + 2048 + 2) * D, "DIFF"),
        ("GPT-3 (BitFit)", "14.2M"): (L * 11 * D + D, "DIFF"),
        ("GPT-3 (PreEmbed)", "3.2M"): (D * (256 + 8), "ok"),
        ("GPT-3 (PreLayer)", "20.2M"): (L * D * (8 + 8), "DIFF"),
        ("GPT-3 (Adapter^H)", "7.1M"): (2 * L * (2 * D * 1 + 1 + D), "ok"),
        ("GPT-3 (Adapter^H)", "40.1M"): (2 * L * (2 * D * 8 + 8 + D), "ok"),
        ("GPT-3 (LoRA)", "4.7M"): (L * 2 * D * 2, "ok"),
        ("GPT-3 (LoRA)", "37.7M"): (2 * L * 2 * D * 8, "ok"),
    }
    assert set(rows) == set(expected)
    for key, (count, status) in expected.items():
        assert (rows[key].adapter, rows[key].status) == (count, status), key


def test_cli_table4_output(capsys):
    assert main(["params", "table=4"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Table 4:")
    body = {line.split("  ")[0]: line for line in out[2:-1]}
    assert len(out) == 2 + 8 + 1
    assert "18,874,368" in body["GPT-3 (PreLayer)"] and body["GPT-3 (PreLayer)"].rstrip().endswith("DIFF")
    assert "18.9M" in body["GPT-3 (PreLayer)"] and "20.2M" in body["GPT-3 (PreLayer)"]
    assert body["GPT-3 (PreEmbed)"].rstrip().endswith("ok")
    assert out[-1].startswith("8 rows: 5 match the printed count")


def test_bad_table_is_refused(capsys):
    assert main(["params", "table=5"]) == 2
    assert "table=5 has no # Trainable column; allowed: 2, 3, 4, 13, 14, 15" in capsys.readouterr().err


@pytest.mark.parametrize(
    "count,printed,status",
    [
        (393_216, "0.35M", "DIFF"),  # GPT-2 M LoRA r=4
        (18_874_368, "18.8M", "ok-trunc"),
        (18_874_368, "18.9M", "ok"),
        (174_604_259_328, "175B", "ok"),
        (25_192_448, "25.19M", "ok"),
        (25_192_448, "24M", "DIFF"),
    ],
)
def test_compare(count, printed, status):
    assert compare(count, printed) == status


def test_printed_formats():
    assert parse_printed("175,255.8M") == (175255.8, 1e6, 1)
    assert format_like(393_216, "0.35M") == "0.39M"
    assert format_like(174_604_259_328, "175,255.8M") == "174,604.3M"
    with pytest.raises(ValueError, match="cannot read"):
        parse_printed("about 3M")


@pytest.mark.parametrize("table", TABLES)
def test_table_specs_are_complete(table):
    spec = load_table(table)
    assert spec["table"] == table and spec["aggregate"] in ("mean", "median") and spec["seeds"]
    keys = [c["key"] for c in spec["columns"]]
    assert all({"key", "task", "metric", "label"} <= set(c) for c in spec["columns"])
    for row in spec["rows"]:
        assert {"label", "model", "method", "dagger", "cited", "paper"} <= set(row)
        parse_printed(row["paper"]["trainable"])
        assert list(row["paper"]["values"]) == keys, row["label"]
        assert set(row["paper"].get("spread", {})) <= set(keys)


def test_spot_check_transcription():
    t2 = load_table(2)["rows"]
    assert len(t2) == 14 and t2[2]["paper"]["spread"]["RTE"] == 2.7 and t2[2]["cited"]
    assert t2[7]["dagger"] and t2[7]["paper"]["values"]["CoLA"] == 68.3
    t14 = load_table(14)["rows"]
    assert t14[3]["paper"]["values"]["TER_U"] == 0.99 and t14[8]["paper"]["spread"]["BLEU_S"] == 0.2
    t4 = load_table(4)["rows"]
    assert t4[1]["paper"]["values"] == {"WikiSQL": 71.3, "MNLI_m": 91.0, "R1": 51.3, "R2": 27.4, "RL": 43.5}
    assert [len(load_table(t)["rows"]) for t in TABLES] == [14, 12, 8, 11, 11, 30]
