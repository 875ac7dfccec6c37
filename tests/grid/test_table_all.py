"""``lora-repro table all`` and ``lora-repro index`` on a fake spec set (fake cells, no training)."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from lora_repro.grid import all as table_all
from lora_repro.grid import cli as grid_cli
from lora_repro.grid import index
from lora_repro.grid.cells import expand
from lora_repro.tables.spec import load_spec


def gpt2_spec(table: int, r: int) -> dict:
    return {
        "table": table, "title": f"GPT-2 r={r}", "aggregate": "mean", "seeds": [1],
        "columns": [{"key": "acc", "task": "e2e", "metric": "accuracy"}],
        "rows": [{"label": f"LoRA r={r}", "model": "gpt2-medium", "method": {"name": "lora", "r": r}}],
    }  # fmt: skip


@pytest.fixture
def specs(fk, tmp_path):
    """90: GPT-2 (1 cell), 91: RoBERTa small.yaml (12 cells), 92: one of 91's cells again, 93: a
    hyperparameter table, 94: GPT-2 again (1 cell)."""
    d = tmp_path / "specs"
    d.mkdir()
    (d / "table90.yaml").write_text(yaml.safe_dump(gpt2_spec(90, 4)))
    shutil.copy(fk.SMALL, d / "table91.yaml")
    shutil.copy(fk.OTHER, d / "table92.yaml")
    (d / "table93.yaml").write_text(yaml.safe_dump({"kind": "hparams", "table": 93, "title": "Hparams"}))
    (d / "table94.yaml").write_text(yaml.safe_dump(gpt2_spec(94, 8)))
    return d


@pytest.fixture
def steps(monkeypatch):
    """Record the audit, figure and claims steps instead of running them."""
    done: list[str] = []
    monkeypatch.setattr(table_all, "run_audit", lambda path, own: done.append(f"audit {path.stem}") or 0)
    monkeypatch.setattr(table_all, "run_figures", lambda own: done.append("figures") or 0)
    monkeypatch.setattr(table_all, "run_claims", lambda own: done.append("claims") or 0)
    return done


def run_all(fk, specs, tmp_path, *extra):
    argv = [
        "all",
        f"runs={tmp_path / 'runs'}",
        f"out={tmp_path / 'results'}",
        "progress=false",
        "jobs=1",
        *extra,
    ]
    return table_all.main(argv, command=fk.fake_command, resolver=fk.resolver, spec_dir=specs)


def test_table_all_runs_shared_cells_once_grouped_by_model_then_audits_figures_claims(fk, specs, steps, tmp_path, monkeypatch):  # fmt: skip
    calls = fk.fake_env(monkeypatch, tmp_path)
    assert run_all(fk, specs, tmp_path) == 0
    starts = [e for e in fk.read_calls(calls) if e[0] == "start"]
    # 1 + 12 + 0 (92's cell is one of 91's) + 1: the shared cell ran once, the hparams table not at all
    assert len(starts) == 14 and len({e[1] for e in starts}) == 14
    # grouped by model: both GPT-2 cells (tables 90 and 94) first, then RoBERTa's
    assert [e[2] for e in starts[:2]] == ["e2e", "e2e"] and {e[2] for e in starts[2:]} == {
        "mnli",
        "sst2",
        "mrpc",
    }
    order = [e[1] for e in starts]
    small = expand(
        load_spec(specs / "table91.yaml"), "tiny", resolver=fk.resolver, runs_root=tmp_path / "runs"
    )
    for cell in small.cells:
        for dep in cell.deps:
            assert order.index(dep) < order.index(cell.id)  # MNLI before its MRPC
    assert steps == ["audit table93", "figures", "claims"]
    out = tmp_path / "results"
    for n in (90, 91, 92, 94):
        assert (out / f"table{n}.md").is_file()
    # the header names the equivalent single-table command, so `table 91` would write the same file
    assert f"Produced by `lora-repro table 91 runs={tmp_path / 'runs'}" in (out / "table91.md").read_text()
    readme = (out / "README.md").read_text()
    assert (
        "| 91 | Small grid test | 12/12 | 0 | 0.2 | [table91.md](table91.md) | [table91.png](table91.png) "
        "| run directories |" in readme
    )
    assert "| 93 | Hparams | audit | — | — | — | — | hyperparameters (nothing runs) |" in readme
    assert "4 run tables: 15/15 cells done, 0 missing; 1 hyperparameter audits." in readme
    # a cell shared by tables 91 and 92 counts once: 14 cells x 1.0 s
    assert "Compute: 0.2 min summed" in readme
    files = {p: p.read_bytes() for p in out.iterdir()}
    mtimes = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    assert run_all(fk, specs, tmp_path) == 0  # the rerun: nothing runs, no file changes
    assert len([e for e in fk.read_calls(calls) if e[0] == "start"]) == 14
    assert {p: p.read_bytes() for p in out.iterdir()} == files
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes


def test_dry_run_lists_tables_and_shared_cells(fk, specs, steps, tmp_path, monkeypatch, capsys):
    calls = fk.fake_env(monkeypatch, tmp_path)
    assert run_all(fk, specs, tmp_path, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "table 91: 12 cells, 0 done, 12 to run" in out and "table 93: hyperparameter audit" in out
    assert "all: 14 distinct cells (1 shared between tables), 0 done, 14 to run" in out
    assert "models in order: gpt2-medium, roberta-base" in out
    assert not calls.exists() and steps == []


def test_index_counts_hand_made_results_and_is_byte_identical_on_a_second_run(
    fk, specs, tmp_path, monkeypatch
):
    from lora_repro import rundir

    monkeypatch.chdir(tmp_path)
    own = {**grid_cli.OWN, "runs": str(tmp_path / "runs"), "out": str(tmp_path / "results")}
    grid = grid_cli.build_grid(str(specs / "table91.yaml"), own, [], fk.resolver)
    for cell in grid.cells[:5]:  # 5 of 12 cells done, 60 s each
        cell.run_dir.mkdir(parents=True)
        rundir.write_result(cell.run_dir, {"config_hash": cell.id, "test": {"accuracy": 0.5}, "wall_time_s": 60.0,
                                           "git_commit": "abcdef1234567890"})  # fmt: skip
    out = tmp_path / "results"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "figure3.png").write_bytes(b"png")
    (out / "claims.md").write_text("# claims\n\n3 claims: 1 hold, 0 do not hold, 2 not enough cells.\n")
    # table 94's cells are absent, but its rendered csv is there (committed results without runs)
    (out / "table94.csv").write_text(
        "table,row,model,method,cited,dagger,column,task,metric,ours,spread,n_seeds,n_expected\n"
        "94,LoRA r=8,gpt2-medium,lora,0,0,acc,e2e,accuracy,0.5,,1,1\n"
    )
    (out / "table94.md").write_text("# Table 94\n\nCompute: 3.0 min summed over the cells' own wall times.\n")
    argv = [f"runs={tmp_path / 'runs'}", f"out={out}"]
    assert index.main(argv, resolver=fk.resolver, spec_dir=specs) == 0
    readme = out / "README.md"
    text = readme.read_text()
    assert "| 91 | Small grid test | 5/12 | 7 | 5.0 | — | — | run directories |" in text
    assert "| 90 | GPT-2 r=4 | 0/1 | 1 | 0.0 |" in text
    assert (
        "| 94 | GPT-2 r=8 | 1/1 | 0 | 3.0 | [table94.md](table94.md) | — | table94.csv: row x task x seed slots (no run directories"
        in text
    )
    assert "Cells computed at git commit abcdef123456." in text
    assert "Compute: 8.0 min summed" in text  # 5 x 60 s + table 94's 3 min
    assert "3 claims: 1 hold, 0 do not hold, 2 not enough cells." in text and "[claims.md](claims.md)" in text
    assert "- [figure3](figures/figure3.png)" in text
    before, mtime = readme.read_bytes(), readme.stat().st_mtime_ns
    assert index.main(argv, resolver=fk.resolver, spec_dir=specs) == 0
    assert readme.read_bytes() == before and readme.stat().st_mtime_ns == mtime
    # --index-only is the same command
    assert table_all.main(["all", "--index-only", *argv], resolver=fk.resolver, spec_dir=specs) == 0
    assert readme.read_bytes() == before


def test_index_prefers_the_rendered_table_when_only_some_of_its_cells_have_run_directories(
    fk, specs, tmp_path, monkeypatch
):
    """Committed results plus a few shared cells' run directories: the table is counted from its csv."""
    from lora_repro import rundir

    monkeypatch.chdir(tmp_path)
    own = {**grid_cli.OWN, "runs": str(tmp_path / "runs"), "out": str(tmp_path / "results")}
    grid = grid_cli.build_grid(str(specs / "table91.yaml"), own, [], fk.resolver)
    for cell in grid.cells[:3]:
        cell.run_dir.mkdir(parents=True)
        rundir.write_result(cell.run_dir, {"config_hash": cell.id, "test": {"accuracy": 0.5}, "wall_time_s": 60.0,
                                           "git_commit": "abcdef1234567890"})  # fmt: skip
    out = tmp_path / "results"
    out.mkdir()
    header = "table,row,model,method,cited,dagger,column,task,metric,ours,spread,n_seeds,n_expected,commit\n"
    (out / "table91.csv").write_text(
        header + "91,R,roberta-base,lora,0,0,acc,sst2,accuracy,0.5,,12,12,0123456789ab\n"
    )
    (out / "table91.md").write_text("# Table 91\n\nCompute: 7.5 min summed over the cells' own wall times.\n")
    # table 94: one cell, its run directory there, and a csv that holds no more: the run directory counts
    grid94 = grid_cli.build_grid(str(specs / "table94.yaml"), own, [], fk.resolver)
    grid94.cells[0].run_dir.mkdir(parents=True)
    rundir.write_result(grid94.cells[0].run_dir, {"config_hash": grid94.cells[0].id, "test": {"accuracy": 0.5},
                                                  "wall_time_s": 30.0, "git_commit": "fedcba9876543210"})  # fmt: skip
    (out / "table94.csv").write_text(
        header + "94,LoRA r=8,gpt2-medium,lora,0,0,acc,e2e,accuracy,0.5,,1,1,0123456789ab\n"
    )
    argv = [f"runs={tmp_path / 'runs'}", f"out={out}"]
    assert index.main(argv, resolver=fk.resolver, spec_dir=specs) == 0
    text = (out / "README.md").read_text()
    assert "| 91 | Small grid test | 12/12 | 0 | 7.5 |" in text
    assert "table91.csv: row x task x seed slots (only 3 of its cells' run directories under" in text
    assert "table91: cells computed at git commit 0123456789ab" in text
    assert "| 94 | GPT-2 r=8 | 1/1 | 0 | 0.5 |" in text and "| run directories |" in text
    assert "| 92 | Overlapping spec | 1/1 | 0 | 1.0 |" in text  # its one cell is among the 3 run directories
    # 7.5 min from table 91's md + table 92's 60 s cell + table 94's 30 s cell: a table counted from its
    # csv cannot say which cells its compute covers, so a cell it shares is counted again
    assert "Compute: 9.0 min summed" in text


def test_bad_arguments_are_one_line(fk, specs, tmp_path):
    with pytest.raises(ValueError, match="unexpected argument '--fast'"):
        table_all.main(["all", "--fast"], resolver=fk.resolver, spec_dir=specs)
    with pytest.raises(ValueError, match="--index-only runs nothing"):
        table_all.main(["all", "--index-only", "train.lr=1"], resolver=fk.resolver, spec_dir=specs)
    with pytest.raises(ValueError, match="profile='gpu' not allowed"):
        index.main(["profile=gpu"], resolver=fk.resolver, spec_dir=specs)


def test_the_real_spec_set_is_discovered_with_the_hparams_tables_apart():
    tables, audits = table_all.split_specs()
    names = [p.stem for p in tables]
    assert {"table2", "table3", "table18"} <= set(names) and names.index("table3") < names.index("table18")
    assert {p.stem for p in audits} >= {"table9", "table10", "table11", "table12", "table17"}
    assert not {p.stem for p in audits} & set(names)
    assert json.dumps(names)  # plain names, table order
