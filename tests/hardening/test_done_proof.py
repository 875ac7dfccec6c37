"""A finished cell is proven, not trusted: DONE vouches for result.json and the adapter by digest.

Train skips a cell only when DONE, result.json, the adapter and the asked-for config hash agree;
a damaged finished cell is moved aside (never deleted) and trained again; a run directory of
another cell is refused in one line naming the file. The grid and the tables ask the same check.
"""

from __future__ import annotations

import json
import os

import pytest

from lora_repro import rundir
from lora_repro.train.cell import cell_config, cell_hash, run_cell


def test_done_is_written_last_and_records_the_hash_and_the_digests(finished):
    marker = json.loads((finished / "DONE").read_text())
    result = json.loads((finished / "result.json").read_text())
    assert marker["config_hash"] == result["config_hash"]
    assert set(marker["files"]) == {
        "result.json",
        "adapter/adapter_model.safetensors",
        "adapter/adapter_config.json",
    }
    weights = finished / "adapter" / "adapter_model.safetensors"
    assert marker["files"]["adapter/adapter_model.safetensors"]["sha256"] == rundir.file_digest(weights)
    # DONE is the newest file of the run: nothing it vouches for was written after it
    newest = max((p for p in finished.rglob("*") if p.is_file()), key=lambda p: p.stat().st_mtime_ns)
    assert newest.name == "DONE"
    assert rundir.check_done(finished, result["config_hash"]).state == "ok"


def test_a_finished_cell_is_skipped_and_left_as_it_is(finished_copy, sst2, capsys, snapshot):
    before = snapshot(finished_copy)
    assert run_cell(cell_config(sst2(finished_copy))) == finished_copy
    assert "is DONE, skipping" in capsys.readouterr().err
    assert snapshot(finished_copy) == before


@pytest.mark.parametrize(
    "damage, named",
    [
        (lambda d: os.truncate(d / "result.json", 200), "result.json is damaged (200 bytes"),
        (lambda d: (d / "result.json").unlink(), "result.json is missing"),
        (
            lambda d: os.truncate(d / "adapter" / "adapter_model.safetensors", 100),
            "adapter_model.safetensors is damaged",
        ),
        (lambda d: (d / "DONE").write_text('{"format": 1, "config'), "DONE is damaged"),
    ],
    ids=["truncated-result", "deleted-result", "truncated-adapter", "truncated-done"],
)
def test_a_damaged_finished_cell_says_which_file(finished_copy, damage, named):
    damage(finished_copy)
    check = rundir.check_done(finished_copy)
    assert check.state == "damaged" and named in check.problem and str(finished_copy) in check.problem
    assert not rundir.is_done(finished_copy)
    with pytest.raises(rundir.DamagedRunError, match=named.replace("(", r"\(")):
        rundir.read_result(finished_copy)


def test_same_size_different_bytes_is_caught_by_the_digest(finished_copy):
    path = finished_copy / "result.json"
    text = path.read_text()
    path.write_text(text.replace('"seed": 1', '"seed": 7', 1))
    assert len(path.read_text()) == len(text)
    assert "sha256 differs" in rundir.check_done(finished_copy).problem


def test_a_damaged_cell_is_moved_aside_and_trained_again(finished_copy, sst2, capsys):
    os.truncate(finished_copy / "result.json", 200)
    old = (finished_copy / "result.json").read_bytes()
    run_cell(cell_config(sst2(finished_copy)))
    assert "result.json is damaged" in capsys.readouterr().err
    aside = [p for p in finished_copy.iterdir() if p.name.startswith("damaged-")]
    assert len(aside) == 1 and (aside[0] / "result.json").read_bytes() == old  # kept, never deleted
    assert (aside[0] / "DONE").is_file() and (aside[0] / "adapter" / "adapter_model.safetensors").is_file()
    assert rundir.check_done(finished_copy, cell_hash(cell_config(sst2(finished_copy)))).state == "ok"


def test_another_cells_run_dir_is_refused_and_left_alone(finished_copy, sst2, snapshot):
    before = snapshot(finished_copy)
    other = cell_config(sst2(finished_copy, "seed=9", "method=ft"))
    with pytest.raises(ValueError, match=r"DONE belongs to cell \w+, not to the asked-for cell") as err:
        run_cell(other)
    assert str(finished_copy / "DONE") in str(err.value) and "\n" not in str(err.value)
    assert snapshot(finished_copy) == before


def test_a_done_from_before_the_digests_is_accepted_when_its_result_names_the_hash(finished_copy, sst2):
    digest = cell_hash(cell_config(sst2(finished_copy)))
    (finished_copy / "DONE").write_text("2025-01-01T00:00:00\n")  # the old marker: a timestamp
    assert rundir.check_done(finished_copy, digest).state == "legacy" and rundir.is_done(
        finished_copy, digest
    )
    assert rundir.check_done(finished_copy, "0123456789ab").state == "foreign"
    os.truncate(finished_copy / "result.json", 10)
    assert rundir.check_done(finished_copy, digest).state == "damaged"


def test_the_grid_and_the_tables_use_the_same_check(finished_copy):
    from lora_repro.grid.cells import Cell
    from lora_repro.tables.aggregate import read_results

    digest = json.loads((finished_copy / "DONE").read_text())["config_hash"]
    cell = Cell(id=digest, overrides=(), run_dir=finished_copy, model="m", task="sst2", method="lora", seed=1)
    assert cell.done
    assert not Cell(
        id="0123456789ab", overrides=(), run_dir=finished_copy, model="m", task="t", method="x", seed=1
    ).done
    os.truncate(finished_copy / "result.json", 200)
    assert not cell.done and "result.json is damaged" in cell.check().problem
    results, problems = read_results({finished_copy}, {finished_copy: digest})
    assert results[finished_copy] is None and "result.json is damaged" in problems[finished_copy]
