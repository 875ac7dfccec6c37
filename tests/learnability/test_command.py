"""``lora-repro learnability`` end to end with a fake cell: the md and csv, reruns, failures, bad input."""

import csv
import io

import pytest

from lora_repro import cli as top
from lora_repro.learnability import cli

# test metrics by task/method/seed ("untrained": the train.epochs=0 cell); medians and sample stds
# worked out by hand in the assertions below
VALUES = {
    "mnli/untrained/1": {"accuracy": 35.0},
    "mnli/lora/1": {"accuracy": 60.0}, "mnli/lora/2": {"accuracy": 80.0}, "mnli/lora/3": {"accuracy": 70.0},
    "mnli/ft/1": {"accuracy": 50.0}, "mnli/ft/2": {"accuracy": 52.0}, "mnli/ft/3": {"accuracy": 54.0},
    "mrpc/untrained/1": {"accuracy": 40.0, "f1": 0.0},
    "mrpc/lora/1": {"accuracy": 70.0, "f1": 80.0}, "mrpc/lora/2": {"accuracy": 72.0, "f1": 81.0},
    "mrpc/lora/3": {"accuracy": 74.0, "f1": 85.0},
    **{f"mrpc/ft/{s}": {"accuracy": 75.0, "f1": 82.0} for s in (1, 2, 3)},
    "e2e/untrained/1": {"BLEU": 3.0},
    **{f"e2e/lora/{s}": {"BLEU": 29.0 + s} for s in (1, 2, 3)},
    **{f"e2e/ft/{s}": {"BLEU": 39.0 + s} for s in (1, 2, 3)},
}  # fmt: skip
BASELINES = {
    "mnli@roberta-base": {"accuracy": 40.0},
    "mrpc@roberta-base": {"accuracy": 46.7, "f1": 63.6},
    "e2e@gpt2-medium": {"BLEU": 3.2, "NIST": 0.1},
}


def argv(spec_file, tmp_path, *extra):
    return [
        f"config={spec_file}",
        f"runs={tmp_path / 'runs'}",
        f"out={tmp_path / 'results'}",
        "progress=false",
        *extra,
    ]


def run_main(lk, args):
    return cli.main(
        args, command=lk.fake_command, resolver=lk.resolver, baseline_of=lambda p: BASELINES[p.row.key]
    )


def test_md_and_csv_from_fake_results_then_a_rerun_changes_nothing(lk, spec_file, fake, tmp_path, capsys):
    calls, set_values, _ = fake
    set_values(VALUES)
    args = argv(spec_file, tmp_path, "jobs=2")
    assert run_main(lk, args) == 0  # a failed bar is not a failed run
    assert len(calls.read_text().splitlines()) == 21
    out = capsys.readouterr().out
    assert "FAIL       mnli@roberta-base: FAIL: FT accuracy 52.0 < baseline 40.0 + 15 = 55.0" in out
    assert "PASS       mrpc@roberta-base: PASS" in out and "learnability: 2 of 3 rows PASS" in out
    md = (tmp_path / "results" / "learnability.md").read_text()
    assert md.startswith("# Small learnability test\n")
    assert (
        f"Produced by `lora-repro learnability {' '.join(args)}` (profile `tiny`, git commit abc123def456)."
        in md
    )
    assert "Compute: 10.5 min" in md  # 21 cells x 30 s
    assert (
        "Missing cells: none." in md
        and "seed 1 only" in md
        and "`method=ft` with `train.epochs=0 init_from=pretrained`" in md
    )
    assert "median over seeds [1, 2, 3] ± sample std" in md
    assert (
        "| mnli | roberta-base | accuracy | 40.0 (majority) | 35.0 (1) | 70.0±10.0 (3) | 52.0±2.0 (3) "
        "| LoRA, FT accuracy ≥ baseline + 15 | ok (best: LoRA accuracy 70.0 < 98) "
        "| FAIL: FT accuracy 52.0 < baseline 40.0 + 15 = 55.0 |"
    ) in md
    # f1 80, 81, 85: median 81, mean 82, sample std sqrt((4 + 1 + 9) / 2) = 2.65
    assert (
        "| mrpc | roberta-base | accuracy / f1 | 46.7 / 63.6 (majority) | 40.0 / 0.0 (1) | 72.0±2.0 / 81.0±2.6 (3) "
        "| 75.0±0.0 / 82.0±0.0 (3) | LoRA, FT accuracy, f1 ≥ baseline + 15 | ok (best: FT f1 82.0 < 98) | PASS |"
    ) in md
    assert (
        "| E2E | gpt2-medium | BLEU | 3.2 (first_slot_value) | 3.0 (1) | 31.0±1.0 (3) | 41.0±1.0 (3) "
        "| LoRA, FT BLEU ≥ untrained + 20 | ok (best: FT BLEU 41.0 < 98) | PASS |"
    ) in md
    assert md.rstrip().endswith("2 of 3 rows PASS.")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "results" / "learnability.csv").read_text())))
    by = {(r["row"], r["metric"], r["column"]): r for r in rows}
    assert len(rows) == 4 * (1 + 2 + 1)  # (baseline, untrained, lora, ft) x each row's metrics
    lora = by[("mnli@roberta-base", "accuracy", "lora")]
    assert (lora["value"], lora["spread"], lora["n_seeds"], lora["n_expected"]) == ("70", "10", "3", "3")
    assert (
        lora["seed_values"] == "60 80 70" and lora["verdict"] == "FAIL" and lora["commit"] == "abc123def456"
    )
    assert by[("mrpc@roberta-base", "f1", "baseline")]["value"] == "63.6"
    assert by[("e2e@gpt2-medium", "BLEU", "untrained")]["n_expected"] == "1"
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "results").iterdir()}
    # the same command again: nothing runs, nothing changes
    assert run_main(lk, args) == 0
    assert len(calls.read_text().splitlines()) == 21
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "results").iterdir()} == mtimes


def test_tasks_runs_a_subset_of_the_rows(lk, spec_file, fake, tmp_path):
    calls, set_values, _ = fake
    set_values(VALUES)
    assert run_main(lk, argv(spec_file, tmp_path, "tasks=e2e", "seeds=1,2")) == 0
    assert sorted(calls.read_text().splitlines()) == sorted(
        ["gpt2-medium e2e untrained 1", "gpt2-medium e2e lora 1", "gpt2-medium e2e lora 2",
         "gpt2-medium e2e ft 1", "gpt2-medium e2e ft 2"]
    )  # fmt: skip
    md = (tmp_path / "results" / "learnability.md").read_text()
    assert "| E2E | gpt2-medium | BLEU | 3.2 (first_slot_value) | 3.0 (1) | 30.5±0.7 (2) |" in md
    assert "| mnli |" not in md and "median over seeds [1, 2]" in md


def test_failed_cells_exit_1_and_the_rows_say_incomplete(lk, spec_file, fake, tmp_path, capsys):
    _, set_values, set_fail = fake
    set_values(VALUES)
    set_fail("mnli")
    assert run_main(lk, argv(spec_file, tmp_path)) == 1
    err = capsys.readouterr().err
    assert "FAILED roberta-base/mnli/lora/seed1" in err and "SKIPPED roberta-base/mrpc/lora/seed1" in err
    md = (tmp_path / "results" / "learnability.md").read_text()
    assert "| INCOMPLETE: missing LoRA accuracy, FT accuracy |" in md
    assert "| INCOMPLETE: missing LoRA accuracy, LoRA f1 |" in md  # MRPC LoRA waits for MNLI
    assert "Missing cells: mnli@roberta-base: LoRA mnli seed 1, LoRA mnli seed 2, LoRA mnli seed 3," in md
    assert "| — (0 of 3) |" in md


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tasks=nope"], "tasks='nope': unknown row ['nope']; allowed: ['mnli', 'sst2',"),
        (["seeds=a,b"], "seeds='a,b': expected integers separated by commas"),
        (["3"], "unexpected argument '3': only key=value arguments"),
        (["--force"], "unknown option '--force'; allowed: --dry-run"),
        (["profile=paper"], "profile='paper': the bars of"),
        (["launcher=cloud"], "launcher='cloud' not allowed"),
        (["config=nowhere.yaml"], "learnability spec nowhere.yaml not found"),
        (["tasks=mnli@gpt3-175b", "train.nope=1"], "train.nope"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_without_a_results_file(
    args, message, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    rc = top.main(["learnability", f"runs={tmp_path / 'runs'}", f"out={tmp_path / 'results'}", *args])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("lora-repro learnability: error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "results").exists()


def test_dry_run_lists_cells_and_baselines_and_writes_nothing(lk, spec_file, fake, tmp_path, capsys):
    calls, _, _ = fake
    assert cli.main([*argv(spec_file, tmp_path), "--dry-run"], resolver=lk.resolver) == 0
    out = capsys.readouterr().out
    assert "table learnability: 21 cells, 0 done, 21 to run" in out
    assert "baseline mrpc@roberta-base: majority" in out and "train.epochs=0" in out
    assert not calls.exists() and not (tmp_path / "results").exists()
