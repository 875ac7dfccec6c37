"""`lora-repro table N logger=wandb`: one wandb group per table row, and the table as a wandb.Table.

The offline runs are read back from their files: the run records of the ``.wandb`` datastore are
decoded with wandb's own protobuf schema (``wandb.proto.wandb_internal_pb2.Record``) and the logged
table is wandb's ``*.table.json`` media file.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from lora_repro.grid import cli as table_cli
from lora_repro.grid.dashboard import claim_rows, row_group
from lora_repro.tables.claims import judge, load_claims, paper_cells
from lora_repro.tables.spec import load_spec

pytestmark = pytest.mark.slow

SPEC = """\
table: 97
title: "wandb dashboard test"
aggregate: median
seeds: [1]
columns:
  - {key: SST2, task: sst2, metric: accuracy, label: SST-2}
rows:
  - label: "RoB (LoRA r=2)"
    model: roberta-base
    method: {name: lora, r: 2, alpha: 2, targets: [q, v]}
    paper: {trainable: "0.1M", values: {SST2: 90.0}}
  - label: "RoB (BitFit)"
    model: roberta-base
    method: {name: bitfit}
    paper: {trainable: "0.1M", values: {SST2: 91.5}}
"""


def datastore_records(path: Path) -> list:
    """The records of a ``.wandb`` file: a 7-byte header, then 32 KiB blocks of chunks, each with a
    7-byte header (crc32c: 4, length: 2 little-endian, type: 1 = full, 2 = first, 3 = middle,
    4 = last), as in LevelDB's log format; each record's bytes are one ``Record`` protobuf."""
    from wandb.proto import wandb_internal_pb2

    data, block = path.read_bytes(), 32768
    assert data[:3] == b":W&", data[:7]  # wandb's datastore magic
    pos, records, pending = 7, [], b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # a block's tail too short for a header is padding
            pos += left
            continue
        length, kind = struct.unpack("<HB", data[pos + 4 : pos + 7])
        if length == 0 and kind == 0:  # zero padding at the end of a block
            pos += left
            continue
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            rec = wandb_internal_pb2.Record()
            rec.ParseFromString(pending)
            records.append(rec)
            pending = b""
    return records


def run_record(run_dir: Path):
    (store,) = run_dir.glob("run-*.wandb")
    runs = [r.run for r in datastore_records(store) if r.WhichOneof("record_type") == "run"]
    assert runs, f"no run record in {store}"
    return runs[0]


def test_table_logger_wandb_groups_rows_and_logs_the_table(sst2_cell, tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)  # offline is the default
    monkeypatch.setenv("WANDB_SILENT", "true")
    spec = tmp_path / "table97.yaml"
    spec.write_text(SPEC)
    runs, out = tmp_path / "runs", tmp_path / "results"
    cell_keys = ("model=", "task=", "method=", "seed=", "run_dir=")  # the grid sets these per cell
    small = [o for o in sst2_cell(tmp_path) if not o.startswith(cell_keys)]  # model.path + tiny sizes
    argv = [
        str(spec), f"runs={runs}", f"out={out}", "progress=false", "jobs=1", "spawn=exec",
        "logger=wandb", *small, "train.epochs=1",
    ]  # fmt: skip
    assert table_cli.main(argv) == 0
    assert (out / "table97.md").is_file()
    for log in (runs / "tiny").glob("*.log"):  # progress off a terminal: whole lines (lora_repro/progress.py)
        text = log.read_text()
        assert "\r" not in text, log
        assert "epoch 1/1:" in text and "generate test" not in text, log  # SST-2: no generation

    # every cell's run: its table row's group, the table's tags, the table coordinates in its config
    cell_runs = sorted((runs / "tiny").glob("*/wandb/offline-run-*"))
    assert len(cell_runs) == 2
    groups = {}
    for run_dir in cell_runs:
        rec = run_record(run_dir)
        groups[rec.run_group] = set(rec.tags)
        config = {item.key: json.loads(item.value_json) for item in rec.config.update}
        assert config["logger"]["table"] == 97  # a number, as Hydra reads logger.table=97
        assert config["logger"]["columns"] == ["SST2"]
        assert config["logger"]["rows"][0] in ("row1: RoB (LoRA r=2)", "row2: RoB (BitFit)")
    assert set(groups) == {row_group("97", 0, "RoB (LoRA r=2)"), row_group("97", 1, "RoB (BitFit)")}
    assert groups["table97/row1: RoB (LoRA r=2)"] == {"table97", "row:RoB (LoRA r=2)", "task:sst2"}
    assert groups["table97/row2: RoB (BitFit)"] == {"table97", "row:RoB (BitFit)", "task:sst2"}

    # the table's own run: group table97, the rendered table as a wandb.Table
    (table_run,) = (runs / "tiny" / "wandb-tables" / "table97").glob("wandb/offline-run-*")
    rec = run_record(table_run)
    assert rec.run_group == "table97" and rec.job_type == "table"
    (media,) = (table_run / "files" / "media" / "table").glob("table97_*.table.json")
    logged = json.loads(media.read_text())
    rows = [dict(zip(logged["columns"], line, strict=True)) for line in logged["data"]]
    assert [(r["row"], r["label"], r["column"], r["paper"]) for r in rows] == [
        (1, "RoB (LoRA r=2)", "SST2", 90.0),
        (2, "RoB (BitFit)", "SST2", 91.5),
    ]
    ours = {r["label"]: r["ours"] for r in rows}
    md = (out / "table97.md").read_text()
    for label, value in ours.items():  # the same numbers as the rendered Markdown table
        assert 0.0 <= value <= 100.0
        assert f"{value:.1f}" in md, (label, value)
    for r in rows:
        assert r["seeds"] == 1 and r["delta"] == pytest.approx(r["ours"] - r["paper"])


def test_claim_rows_carry_each_verdict():
    spec = load_spec(2)
    claims = load_claims("2")
    assert claims, "configs/claims/table2.yaml has claims"
    verdicts = [judge(c, spec, paper_cells(spec)) for c in claims]
    rows = claim_rows(verdicts)
    assert [r[0] for r in rows] == [c.id for c in claims]
    assert {r[3] for r in rows} == {"holds"}  # on the paper's own numbers every claim holds
    assert all(r[4] == "not enough cells" for r in rows)  # ours: no cell given
