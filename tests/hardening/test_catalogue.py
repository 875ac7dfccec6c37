"""The catalogue of bad inputs (docs/hardening.md): each through the CLI, in-process.

For every case: a non-zero exit, one line on stderr naming the bad value or file, no traceback, and
nothing written or changed under the run directory, the working directory or the model cache.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lora_repro.cli import main

P = "params model=roberta-base method=lora"
T = "train model=roberta-base task=sst2 method=lora seed=1 run_dir={run}"
SCORE = "score task=sst2 references={inputs}/refs.txt predictions="
IMP = "import-adapter {inputs}/no_lora.pt model=gpt2-medium out={run}"
EV = "eval model=roberta-base task=sst2 adapter={finished}/adapter run_dir={run}"

# (id, command line, what the one-line message must contain); {run}: a run directory that must stay
# absent, {finished}: a finished LoRA cell, {inputs}: prepared files, {missing}: a path that does not exist
CASES: list[tuple[str, str, str]] = [
    ("params-r-float", f"{P} method.r=1.5", "method.r must be a positive integer (>= 1), got 1.5 (a float)"),
    ("params-r-string", f"{P} method.r=abc", "method.r must be a positive integer (>= 1), got 'abc' (a str)"),
    ("params-r-zero", f"{P} method.r=0", "method.r must be a positive integer (>= 1), got 0"),
    ("params-alpha-zero", f"{P} method.alpha=0", "method.alpha must be a number > 0, got 0"),
    ("params-alpha-negative", f"{P} method.alpha=-1", "method.alpha must be a number > 0, got -1"),
    ("params-alpha-nan", f"{P} method.alpha=nan", "method.alpha must be a number > 0, got nan"),
    ("params-dropout-one", f"{P} method.dropout=1.0", "method.dropout must be a number in [0, 1), got 1.0"),
    ("params-dropout-negative", f"{P} method.dropout=-0.5", "method.dropout must be a number in [0, 1), got -0.5"),
    ("params-init-std-zero", f"{P} method.init_std=0", "method.init_std must be a number > 0, got 0"),
    ("params-target-unknown", f"{P} method.targets=[q,zz]", "unknown LoRA target(s) ['zz']"),
    ("params-adapter-r-float", "params model=roberta-base method=adapter_h method.r=2.5", "method.r must be a positive integer"),
    ("params-prefix-negative", "params model=gpt2-medium method=prelayer method.l_p=-1", "method.l_p must be a non-negative integer (>= 0), got -1"),
    ("params-ft-top-zero", "params model=gpt2-medium method=ft_top method.k=0", "method.k must be a positive integer (>= 1), got 0"),
    ("params-drop-float", "params model=roberta-base method=adapter_d method.drop=1.5", "method.drop must be a non-negative integer (>= 0), got 1.5"),
    ("params-unknown-model", "params model=nosuch method=lora", "Could not find 'model/nosuch'; allowed model:"),
    ("params-unknown-method", "params model=roberta-base method=nosuch", "Could not find 'method/nosuch'; allowed method:"),
    ("params-misspelled-key", f"{P} method.rr=3", "unknown key 'method.rr'; allowed: ['method.name', 'method.r'"),
    ("params-unknown-top-key", f"{P} foo=1", "unknown key 'foo'; allowed: ['model', 'method']"),
    ("params-added-key", f"{P} +method.rr=3", "unknown key(s) ['method.rr'] for method lora"),
    ("params-unknown-table", "params table=99", "table=99 has no # Trainable column"),
    ("data-unknown-task", "data task=nosuch", "unknown task 'nosuch'"),
    ("data-n-string", "data task=sst2 n=abc", "n must be a non-negative integer (>= 0), got 'abc'"),
    ("data-n-negative", "data task=sst2 n=-1", "n must be a non-negative integer (>= 0), got -1"),
    ("data-n-float", "data task=sst2 n=1.5", "n must be a non-negative integer (>= 0), got 1.5"),
    ("data-unknown-split", "data task=sst2 split=nosuch n=1", "unknown split 'nosuch'"),
    ("data-unknown-family", "data task=sst2 family=middle n=1", "family must be null or one of ['encoder', 'decoder'], got 'middle'"),
    ("data-task-seed-float", "data task=sst2 task.seed=1.5", "task.seed must be an integer, got 1.5"),
    ("data-split-size-negative", "data task=sst2 task.tiny.n_test=-3", "task.tiny.n_test must be a non-negative integer (>= 0), got -3"),
    ("data-unknown-profile", "data task=sst2 profile=nosuch", "Could not find 'profile/nosuch'"),
    ("data-source-missing", "data task=sst2 task.source={missing}", "task.source '{missing}' is not a directory"),
    ("data-source-latin1", "data task=sst2 n=1 task.source={inputs}/latin1", "source '{inputs}/latin1' split 'validation': cannot read it (UnicodeDecodeError"),
    ("data-source-zero-rows", "data task=sst2 n=1 task.source={inputs}/zero_rows", "source '{inputs}/zero_rows' split 'validation': cannot read it"),
    ("data-source-empty-reference", "data task=e2e n=1 task.source={inputs}/empty_ref", "split 'test': row 0 has no 'human_reference'"),
    ("data-source-not-parquet", "data task=sst2 n=1 task.source={inputs}/not_parquet", "source '{inputs}/not_parquet' split 'validation': cannot read it (ArrowInvalid"),
    ("score-label-outside", SCORE + "{inputs}/pred_7.txt", "{inputs}/pred_7.txt line 2: 7 is not a label of sst2"),
    ("score-label-name-wrong-task", SCORE + "{inputs}/pred_name.txt", "{inputs}/pred_name.txt line 1: 'neutral' is not a label of sst2"),
    ("score-reference-outside", "score task=sst2 predictions={inputs}/refs.txt references={inputs}/pred_7.txt", "{inputs}/pred_7.txt line 2: 7 is not a label"),
    ("score-mnli-label-3", "score task=mnli references={inputs}/refs.txt predictions={inputs}/pred_3.txt", "{inputs}/pred_3.txt line 1: 3 is not a label of mnli"),
    ("score-stsb-not-number", "score task=stsb references={inputs}/refs.txt predictions={inputs}/pred_name.txt", "line 1: 'neutral' is not a number"),
    ("score-empty-prediction", SCORE + "{inputs}/pred_blank.txt", "{inputs}/pred_blank.txt line 2: '' is not a label of sst2"),
    ("score-unknown-task", "score task=nosuch predictions={inputs}/refs.txt references={inputs}/refs.txt", "unknown task 'nosuch'"),
    ("score-missing-predictions", SCORE + "{missing}", "predictions file not found: {missing}"),
    ("score-no-references", "score task=sst2 predictions={inputs}/refs.txt", "missing references=..."),
    ("score-count-mismatch", SCORE + "{inputs}/pred_two.txt", "{inputs}/pred_two.txt has 2 predictions but {inputs}/refs.txt has 3"),
    ("score-unknown-argument", SCORE + "{inputs}/refs.txt foo=1", "unknown argument 'foo=1'"),
    ("pretrain-steps-negative", "pretrain model=gpt2-medium steps=-5", "steps must be null or a positive integer (>= 1), got -5"),
    ("pretrain-steps-float", "pretrain model=gpt2-medium steps=1.5", "steps must be null or a positive integer (>= 1), got 1.5"),
    ("pretrain-steps-string", "pretrain model=gpt2-medium steps=abc", "got 'abc' (a str)"),
    ("pretrain-force-not-bool", "pretrain model=gpt2-medium force=maybe", "force must be true or false, got 'maybe'"),
    ("pretrain-unknown-model", "pretrain model=nosuch", "unknown model 'nosuch'"),
    ("pretrain-no-model", "pretrain", "give model=<name>"),
    ("pretrain-unknown-argument", "pretrain model=gpt2-medium bogus=1", "unknown argument(s) ['bogus=1']"),
    ("train-seed-float", T.replace("seed=1", "seed=1.5"), "seed must be an integer, got 1.5 (a float)"),
    ("train-seed-string", T.replace("seed=1", "seed=abc"), "seed must be an integer, got 'abc' (a str)"),
    ("train-r-float", f"{T} method.r=1.5", "method.r must be a positive integer (>= 1), got 1.5"),
    ("train-alpha-zero", f"{T} method.alpha=0", "method.alpha must be a number > 0, got 0"),
    ("train-dropout-one", f"{T} method.dropout=1", "method.dropout must be a number in [0, 1), got 1"),
    ("train-epochs-negative", f"{T} train.epochs=-1", "train.epochs must be a non-negative integer (>= 0), got -1"),
    ("train-epochs-float", f"{T} train.epochs=1.5", "train.epochs must be a non-negative integer (>= 0), got 1.5"),
    ("train-batch-zero", f"{T} train.batch_size=0", "train.batch_size must be a positive integer (>= 1), got 0"),
    ("train-lr-string", f"{T} train.lr=abc", "train.lr must be a number >= 0, got 'abc'"),
    ("train-max-length-zero", f"{T} train.max_length=0", "train.max_length must be a positive integer (>= 1), got 0"),
    ("train-label-smoothing-one", f"{T} train.label_smoothing=1.0", "train.label_smoothing must be a number in [0, 1), got 1.0"),
    ("train-warmup-ratio-two", f"{T} train.warmup_ratio=2", "train.warmup_ratio must be null or a number in [0, 1], got 2"),
    ("train-mixed-precision", f"{T} train.mixed_precision=fp8", "train.mixed_precision must be one of ['auto', 'no', 'bf16', 'fp16'], got 'fp8'"),
    ("train-test-examples-zero", f"{T} eval.max_test_examples=0", "eval.max_test_examples must be null or a positive integer (>= 1), got 0"),
    ("train-beam-zero", f"{T} generation.beam_size=0", "generation.beam_size must be a positive integer (>= 1), got 0"),
    ("train-keep-zero", f"{T} checkpoint.keep=0", "checkpoint.keep must be a positive integer (>= 1), got 0"),
    ("train-processes-zero", f"{T} accelerate.num_processes=0", "accelerate.num_processes must be a positive integer (>= 1), got 0"),
    ("train-added-key", f"{T} +train.foo=3", "unknown key(s) ['train.foo']; allowed: ['train.adam_betas'"),
    ("train-misspelled-key", f"{T} method.rr=3", "unknown key 'method.rr'; allowed: ['method.name', 'method.r'"),
    ("train-unknown-model", T.replace("roberta-base", "nosuch"), "Could not find 'model/nosuch'; allowed model:"),
    ("train-unknown-task", T.replace("task=sst2", "task=nosuch"), "Could not find 'task/nosuch'; allowed task:"),
    ("train-init-from", f"{T} init_from=nowhere", "init_from='nowhere'; allowed: ['pretrained', 'mnli']"),
    ("train-unknown-flag", f"{T} --bogus", "unknown option(s) ['--bogus']"),
    ("train-run-dir-is-a-file", "train model=roberta-base task=sst2 method=lora run_dir={inputs}/refs.txt", "run_dir={inputs}/refs.txt is a file, not a directory"),
    ("train-foreign-run-dir", "train model=gpt2-medium task=e2e method=ft seed=9 run_dir={finished}", "{finished}/DONE belongs to cell"),
    ("table-unknown", "table 99", "unknown table '99'"),
    ("table-jobs-zero", "table 3 jobs=0", "jobs=0: expected a positive integer or auto"),
    ("table-seeds-string", "table 3 seeds=abc", "seeds='abc': expected integers"),
    ("table-unknown-flag", "table 3 --bogus", "unknown option '--bogus'"),
    ("table-unknown-profile", "table 3 --dry-run profile=nosuch", "profile='nosuch' not allowed"),
    ("learnability-unknown-task", "learnability tasks=nope", "'nope'"),
    ("import-no-file", "import-adapter model=gpt2-medium out={run}", "give one reference checkpoint file (got none)"),
    ("import-missing-file", "import-adapter {missing} model=gpt2-medium out={run}", "reference checkpoint {missing} not found"),
    ("import-no-model", "import-adapter {inputs}/no_lora.pt out={run}", "give model=<name>"),
    ("import-unknown-model", IMP.replace("gpt2-medium", "nosuch"), "unknown model 'nosuch'; allowed:"),
    ("import-unknown-task", f"{IMP} task=nosuch", "unknown task 'nosuch'; allowed:"),
    ("import-r-zero", f"{IMP} r=0", "r must be null or a positive integer (>= 1), got 0"),
    ("import-r-float", f"{IMP} r=1.5", "r must be null or a positive integer (>= 1), got 1.5 (a float)"),
    ("import-alpha-negative", f"{IMP} alpha=-1", "alpha must be null or a number > 0, got -1"),
    ("import-unknown-profile", f"{IMP} profile=nosuch", "profile must be one of ['paper', 'tiny'], got 'nosuch'"),
    ("import-unknown-argument", f"{IMP} foo=1", "unknown argument(s) ['foo=1']"),
    ("import-two-files", f"{IMP} {{inputs}}/refs.txt", "give one reference checkpoint file (got ["),
    ("import-needs-code", "import-adapter {inputs}/custom.pt model=gpt2-medium out={run}", "{inputs}/custom.pt: refused: loading it would run arbitrary code"),
    ("import-not-a-checkpoint", "import-adapter {inputs}/refs.txt model=gpt2-medium out={run}", "{inputs}/refs.txt is not a PyTorch checkpoint"),
    ("import-no-lora", IMP, "{inputs}/no_lora.pt holds no LoRA tensors"),
    ("import-out-is-a-file", "import-adapter {inputs}/no_lora.pt model=gpt2-medium out={inputs}/refs.txt", "out={inputs}/refs.txt is a file"),
    ("eval-no-adapter", "eval model=roberta-base task=sst2 run_dir={run}", "give adapter=<dir>"),
    ("eval-adapter-missing", "eval model=roberta-base task=sst2 adapter={missing} run_dir={run}", "{missing}/adapter_config.json not found"),
    ("eval-not-an-adapter", "eval model=roberta-base task=sst2 adapter={inputs} run_dir={run}", "{inputs}/adapter_config.json not found"),
    ("eval-method-given", f"{EV} method=ft", "the method and its options come from the adapter's config"),
    ("eval-method-option-given", f"{EV} method.r=4", "the method and its options come from the adapter's config"),
    ("eval-beam-zero", f"{EV} generation.beam_size=0", "generation.beam_size must be a positive integer (>= 1), got 0"),
    ("eval-unknown-task", EV.replace("task=sst2", "task=nosuch"), "Could not find 'task/nosuch'; allowed task:"),
    ("eval-unknown-flag", f"{EV} --bogus", "unknown option(s) ['--bogus']"),
    ("eval-processes", f"{EV} accelerate.num_processes=2", "lora-repro eval runs in one process"),
    ("unknown-command", "nosuch", "unknown command 'nosuch'"),
]  # fmt: skip


class Custom:
    """A class a pickle names: unpickling it would import and run this module's code."""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Prediction files, references and damaged task.source copies the cases read."""
    d = tmp_path_factory.mktemp("inputs")
    files = {
        "refs.txt": b"1\n0\n0\n", "pred_7.txt": b"1\n7\n0\n", "pred_name.txt": b"neutral\n1\n0\n",
        "pred_3.txt": b"3\n1\n0\n", "pred_blank.txt": b"1\n\n0\n", "pred_two.txt": b"1\n0\n",
        "latin1/validation.csv": b"idx,sentence,label\n0,caf\xe9 ok,1\n", "zero_rows/validation.csv": b"idx,sentence,label\n",
        "empty_ref/test.csv": b"meaning_representation,human_reference\nname[X],\nname[Y],Y.\n",
        "not_parquet/validation.parquet": b"\x00garbage",
    }  # fmt: skip
    for name, data in files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
    import torch

    torch.save({"transformer.wte.weight": torch.zeros(2, 2)}, d / "no_lora.pt")  # a checkpoint without LoRA
    torch.save({"model_state_dict": {"x.lora_A": torch.zeros(1)}, "extra": Custom()}, d / "custom.pt")
    return d


def test_the_catalogue_has_at_least_fifty_distinct_cases():
    assert len(CASES) >= 50 and len({c[0] for c in CASES}) == len(CASES)


def test_docs_list_every_case():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "hardening.md").read_text()
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \| `lora-repro ", doc, flags=re.M))
    assert listed == {c[0] for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(
    case, inputs, finished, cache_dir, tmp_path, monkeypatch, capsys, snapshot
):
    _, line, needle = case
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)  # nothing may appear in the working directory either (runs/, results/)
    paths = {"run": tmp_path / "run", "finished": finished, "inputs": inputs, "missing": tmp_path / "missing"}
    argv = [a.format(**paths) for a in line.split()]
    watched = [finished, inputs, cache_dir / "models"]
    before = [snapshot(p) for p in watched]
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc != 0
    assert "\n" not in err and "Traceback" not in err, err
    assert needle.format(**paths) in err, err
    assert not paths["run"].exists() and not any(work.iterdir())
    assert [snapshot(p) for p in watched] == before
