"""Grid expansion, dependency order, skip-done, failures, dry-run: with a fake cell command."""

import time
from dataclasses import replace
from pathlib import Path

import pytest

from lora_repro.grid import cli
from lora_repro.grid.cells import expand
from lora_repro.grid.run import run_cells
from lora_repro.tables.spec import load_spec

HERE = Path(__file__).resolve().parent
SMALL = HERE / "specs" / "small.yaml"


def run_main(fk, args, tmp_path):
    return cli.main(fk.argv(fk.SMALL, tmp_path, *args), command=fk.fake_command, resolver=fk.resolver)


def test_expand_cells_overrides_and_deps(fk, tmp_path):
    grid = expand(load_spec(SMALL), "tiny", resolver=fk.resolver, runs_root=tmp_path / "runs")
    assert len(grid.cells) == 12  # 2 rows x 3 tasks x 2 seeds, nothing shared between the rows
    by_task = {(c.task, c.seed, c.overrides[4]): c for c in grid.cells}  # overrides[4] = method.r=...
    mrpc = by_task[("mrpc", 1, "method.r=8")]
    mnli = by_task[("mnli", 1, "method.r=8")]
    assert mrpc.deps == (mnli.id,) and "init_from=mnli" in mrpc.overrides
    assert mrpc.overrides[:6] == ("profile=tiny", "model=roberta-base", "task=mrpc", "method=lora", "method.r=8",
                                  "method.alpha=8")  # fmt: skip
    assert "method.targets=[q,v]" in mrpc.overrides and "seed=1" in mrpc.overrides
    dagger_mrpc = by_task[("mrpc", 1, "method.r=4")]
    assert dagger_mrpc.deps == () and "init_from=mnli" not in dagger_mrpc.overrides
    assert mnli.run_dir == tmp_path / "runs" / "tiny" / mnli.id
    order = [c.id for c in grid.cells]
    assert all(order.index(d) < order.index(c.id) for c in grid.cells for d in c.deps)
    # the same cell asked for by another table has the same id and run directory
    other = expand(load_spec(fk.OTHER), "tiny", resolver=fk.resolver, runs_root=tmp_path / "runs")
    assert other.cells[0].id == by_task[("sst2", 1, "method.r=8")].id
    assert expand(load_spec(SMALL), "tiny", seeds=[3], resolver=fk.resolver).seeds == (3,)


def test_dependency_order_then_nothing_to_do(fk, tmp_path, monkeypatch):
    calls = fk.fake_env(monkeypatch, tmp_path)
    assert run_main(fk, [], tmp_path) == 0
    events = fk.read_calls(calls)
    assert sum(e[0] == "start" for e in events) == 12
    pos = {(e[0], e[1]): i for i, e in enumerate(events)}
    grid = expand(load_spec(SMALL), "tiny", resolver=fk.resolver, runs_root=tmp_path / "runs")
    for cell in grid.cells:
        for dep in cell.deps:
            assert pos[("end", dep)] < pos[("start", cell.id)]  # MNLI finished before its MRPC starts
    md = (tmp_path / "results" / "table91.md").read_text()
    assert "Missing cells: none." in md and "| RoB-base (LoRA)† | ours |" in md
    assert "65.0±7.1 (2)" in md  # median of seeds 1 and 2: 60 and 70
    mtime = (tmp_path / "results" / "table91.md").stat().st_mtime_ns
    # the same command again: no cell runs, no file changes; the overlapping table reuses the done cell
    assert run_main(fk, [], tmp_path) == 0
    assert len(fk.read_calls(calls)) == len(events)
    assert (tmp_path / "results" / "table91.md").stat().st_mtime_ns == mtime
    assert cli.main(fk.argv(fk.OTHER, tmp_path), command=fk.fake_command, resolver=fk.resolver) == 0
    assert len(fk.read_calls(calls)) == len(events)


def test_failed_cell_does_not_stop_the_others(fk, tmp_path, monkeypatch, capsys):
    calls = fk.fake_env(monkeypatch, tmp_path, fail="mnli")
    assert run_main(fk, ["jobs=2"], tmp_path) == 1
    err = capsys.readouterr().err
    grid = expand(load_spec(SMALL), "tiny", resolver=fk.resolver, runs_root=tmp_path / "runs")
    for cell in grid.cells:
        if cell.task == "mnli":
            assert f"FAILED {cell.name} [{cell.id}]: exit code 3; log: {cell.log_path}" in err
            assert "boom: task mnli fails on purpose" in cell.log_path.read_text()
        elif cell.deps:
            assert f"SKIPPED {cell.name} [{cell.id}]" in err and not cell.log_path.exists()
        else:
            assert cell.done
    assert "6/12 cells done (0 before, 6 now, 4 failed)" in err
    md = (tmp_path / "results" / "table91.md").read_text()
    assert "mnli seed 1, mnli seed 2, mrpc seed 1, mrpc seed 2" in md
    # fixed: rerun runs only the 6 cells that are not done
    monkeypatch.setenv("FAKE_FAIL", "")
    n = len(fk.read_calls(calls))
    assert run_main(fk, [], tmp_path) == 0
    assert sum(e[0] == "start" for e in fk.read_calls(calls)[n:]) == 6


def test_parallel_runs_two_at_once(fk, tmp_path, monkeypatch):
    calls = fk.fake_env(monkeypatch, tmp_path, sleep=0.3)
    grid = expand(load_spec(SMALL), "tiny", resolver=fk.resolver, runs_root=tmp_path / "runs")
    report = run_cells(grid.cells[:4], jobs=2, command=fk.fake_command, progress=True)
    assert len(report.finished) == 4 and report.ok
    running, peak = 0, 0
    for event in fk.read_calls(calls):
        running += 1 if event[0] == "start" else -1
        peak = max(peak, running)
    assert peak == 2


def test_dry_run_lists_cells_and_status(fk, tmp_path, monkeypatch, capsys):
    fk.fake_env(monkeypatch, tmp_path)
    grid = expand(load_spec(SMALL), "tiny", resolver=fk.resolver, runs_root=tmp_path / "runs")
    run_cells(grid.cells[:3], command=fk.fake_command, progress=False)
    assert run_main(fk, ["--dry-run"], tmp_path) == 0
    out = capsys.readouterr().out
    assert out.count("\ndone ") + out.startswith("done ") == 3 and out.count("missing ") == 9
    assert "table 91: 12 cells, 3 done, 9 to run" in out
    mrpc = next(c for c in grid.cells if c.deps)
    assert f"{mrpc.id}  {mrpc.name}  after {mrpc.deps[0]}" in out
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [(["profile=huge"], "profile='huge' not allowed; allowed: ['tiny', 'paper']"),
     (["launcher=k8s"], "launcher='k8s' not allowed; allowed: ['local', 'parallel', 'slurm']"),
     (["seeds=1,x"], "seeds='1,x': expected integers"), (["jobs=0"], "jobs=0: expected a positive integer"),
     (["--fast"], "unknown option '--fast'")],
)  # fmt: skip
def test_bad_arguments(fk, tmp_path, monkeypatch, args, message):
    fk.fake_env(monkeypatch, tmp_path)
    with pytest.raises(ValueError, match=message.replace("[", "\\[").replace("]", "\\]").replace("(", "\\(")):
        run_main(fk, args, tmp_path)


def test_unknown_table_names_the_allowed_ones():
    with pytest.raises(ValueError, match="unknown table '77'; allowed:"):
        cli.main(["77", "--dry-run"])


def test_cli_bad_value_is_one_line_and_exit_2(capsys):
    from lora_repro.cli import main

    assert main(["table", "3", "launcher=k8s"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "lora-repro table: error: launcher='k8s' not allowed; allowed: ['local', 'parallel', 'slurm']"
    ]


def test_cell_locked_by_another_grid_is_waited_for_not_rerun(fk, tmp_path, monkeypatch):
    import fcntl
    import json
    import os
    import threading

    calls = fk.fake_env(monkeypatch, tmp_path)
    grid = expand(load_spec(SMALL), "tiny", resolver=fk.resolver, runs_root=tmp_path / "runs")
    busy, free = grid.cells[0], grid.cells[1]
    busy.log_path.parent.mkdir(parents=True)
    fd = os.open(busy.run_dir.with_name(busy.id + ".lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # "another grid process" runs this cell
    out = {}
    thread = threading.Thread(target=lambda: out.update(r=run_cells([busy, free], command=fk.fake_command)))
    thread.start()
    while not free.done:
        time.sleep(0.05)
    time.sleep(0.3)
    assert thread.is_alive() and busy.id not in {e[1] for e in fk.read_calls(calls)}
    busy.run_dir.mkdir()  # the other process finishes the cell and lets go of it
    (busy.run_dir / "result.json").write_text(json.dumps({"test": {}}))
    (busy.run_dir / "DONE").write_text("")
    os.close(fd)
    thread.join(timeout=10)
    report = out["r"]
    assert [c.id for c in report.finished] == [free.id] and [c.id for c in report.already_done] == [busy.id]
    assert busy.id not in {e[1] for e in fk.read_calls(calls)}


def test_dry_run_paper_profile_estimates_gpu_hours(fk, tmp_path, monkeypatch, capsys):
    fk.fake_env(monkeypatch, tmp_path)
    assert run_main(fk, ["--dry-run", "profile=paper", "seeds=1", "gpu_tflops=100"], tmp_path) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "GPU-h" in line]
    assert len(lines) == 6
    sizes = [float(line.split("(N=")[1].split("M")[0]) for line in lines]
    assert all(124 < n < 126 for n in sizes)  # RoBERTa-base (125M) with a classification head
    hours = [float(line.split("~")[1].split(" GPU-h")[0]) for line in lines]
    assert all(h > 0 for h in hours)
    total = float(out.split("estimated GPU hours to run the missing cells: ")[1].split(" ")[0])
    assert abs(total - sum(hours)) < 0.1 and "(at 100 achieved TFLOP/s per GPU)" in out


@pytest.mark.parametrize(
    ("args", "launcher", "jobs"),
    [([], "parallel", None), (["profile=paper"], "local", None), (["jobs=1"], "local", 1),
     (["jobs=3"], "parallel", 3), (["profile=paper", "jobs=2"], "parallel", 2),
     (["launcher=local"], "local", None)],
)  # fmt: skip
def test_default_launcher_is_one_job_per_core_in_tiny_and_sequential_in_paper(args, launcher, jobs):
    _, _, own, _ = cli.parse_argv(["3", *args])
    assert (own["launcher"], own["jobs"]) == (launcher, jobs)
    if launcher == "parallel" and jobs is None:
        assert cli.resolve_jobs("parallel", None)[0] >= 1


@pytest.mark.parametrize("profile", ["paper", "tiny"])
def test_table2_dagger_lora_row_has_its_own_cells_with_the_dagger_hparams(profile):
    from lora_repro.grid.cells import trainer_resolver

    spec = load_spec("2")
    lora_rows = [r for r in spec.rows if r.model == "roberta-large" and r.method_name == "lora"]
    plain, dagger = sorted(lora_rows, key=lambda r: r.dagger)
    assert not plain.dagger and dagger.dagger
    grid = expand(replace(spec, rows=(plain, dagger)), profile, seeds=[1], resolver=trainer_resolver)
    cells = {c.id: c for c in grid.cells}
    by = {(i, task): cells[cid] for (i, task, _), cid in grid.slots.items()}
    # same batch, epochs, lr and length 128: the paper reuses these runs; QNLI/QQP differ in max length
    # (512 vs 128) in the paper profile, while the tiny profile caps both at 96
    shared = ("mnli", "sst2", "cola") + (("qnli", "qqp") if profile == "tiny" else ())
    for task in shared:
        assert by[(0, task)].id == by[(1, task)].id, task
    for task in ("qnli", "qqp", "mrpc", "rte", "stsb"):
        if task in shared:
            continue
        a, b = by[(0, task)], by[(1, task)]
        assert a.id != b.id, task
        assert b.deps == () and "hparams.variant=dagger" in b.overrides
    if profile == "paper":
        from lora_repro.train.cell import cell_config

        cfg = cell_config(list(by[(1, "qnli")].overrides))
        assert (cfg.train.batch_size, cfg.train.max_length, cfg.init_from) == (4, 128, "pretrained")
        assert cell_config(list(by[(0, "qnli")].overrides)).train.max_length == 512


def test_header_names_the_commit_that_ran_the_cells_and_rerender_is_byte_identical(fk, tmp_path, monkeypatch):
    from lora_repro import config

    fk.fake_env(monkeypatch, tmp_path)
    monkeypatch.setenv("FAKE_COMMIT", "c0ffee" * 6 + "abcd")
    monkeypatch.setattr(config, "git_commit", lambda *a, **k: "111111111111")
    assert run_main(fk, ["seeds=1"], tmp_path) == 0
    md = tmp_path / "results" / "table91.md"
    first = md.read_bytes()
    assert "git commit c0ffeec0ffee)" in first.decode() and "111111111111" not in first.decode()
    monkeypatch.setattr(config, "git_commit", lambda *a, **k: "222222222222")  # HEAD moved on
    assert run_main(fk, ["seeds=1"], tmp_path) == 0
    assert md.read_bytes() == first


@pytest.mark.parametrize(
    ("commits", "expected"),
    [(["a" * 40, "a" * 40], "a" * 12), ([None, None], "HEAD"),
     (["a" * 40, "b" * 40, "a" * 40], f"{'a' * 12} (2 cells), {'b' * 12} (1 cell)"),
     (["a" * 40 + " (+ uncommitted changes)", None], "a" * 12 + " (+ uncommitted changes)")],
)  # fmt: skip
def test_cells_commit(commits, expected):
    from lora_repro.tables.render import cells_commit

    assert cells_commit(commits, fallback="HEAD") == expected


def test_header_names_the_environment_and_flags_a_mixed_one(fk, tmp_path, monkeypatch):
    """Cells whose result.json files record two transformers versions: the table header says so."""
    fk.fake_env(monkeypatch, tmp_path)
    monkeypatch.setenv("FAKE_TRANSFORMERS", "1:5.24.0,2:5.24.0")
    assert run_main(fk, [], tmp_path) == 0
    md = (tmp_path / "results" / "table91.md").read_text()
    assert "Environment: Python 3.11.7, torch 2.13.0+cpu, transformers 5.24.0, datasets 5.2.0" in md
    assert "on Test CPU (2 cores)" in md and "mixed environments" not in md

    monkeypatch.setenv("FAKE_TRANSFORMERS", "1:5.23.0,2:5.24.0")
    assert run_main(fk, ["runs=" + str(tmp_path / "runs2")], tmp_path) == 0
    md = (tmp_path / "results" / "table91.md").read_text()
    tex = (tmp_path / "results" / "table91.tex").read_text()
    assert "WARNING: mixed environments: the cells ran under 2 different environments" in md
    assert "(they differ in transformers)" in md
    assert "- 6 cells: Python 3.11.7, torch 2.13.0+cpu, transformers 5.23.0," in md
    assert "- 6 cells: Python 3.11.7, torch 2.13.0+cpu, transformers 5.24.0," in md
    assert "% WARNING: mixed environments" in tex


def test_the_table_command_draws_its_plot_unless_told_not_to(fk, monkeypatch, tmp_path):
    fk.fake_env(monkeypatch, tmp_path)
    assert cli.main(fk.argv(fk.SMALL, tmp_path, "seeds=1"), fk.fake_command, fk.resolver) == 0
    png = tmp_path / "results" / "table91.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    png.unlink()
    assert cli.main(fk.argv(fk.SMALL, tmp_path, "seeds=1", "plot=false"), fk.fake_command, fk.resolver) == 0
    assert not png.exists() and (tmp_path / "results" / "table91.md").is_file()
    with pytest.raises(ValueError, match=r"plot='maybe' not allowed; allowed: true, false"):
        cli.main(fk.argv(fk.SMALL, tmp_path, "plot=maybe"), fk.fake_command, fk.resolver)
