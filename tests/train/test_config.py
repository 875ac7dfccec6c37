"""The Hydra config tree of a cell: every hparams file composes, precedence, variants, the hash."""

from __future__ import annotations

import pytest

from lora_repro.config import config_dir, group_options
from lora_repro.train import cli
from lora_repro.train.cell import cell_config, cell_hash, cell_run_dir


def _hparams_cells() -> list[tuple[str, str, str]]:
    root = config_dir() / "hparams"
    return sorted((p.parent.parent.name, p.parent.name, p.stem) for p in root.glob("*/*/*.yaml"))


def test_hparams_tree_covers_the_papers_tables():
    cells = set(_hparams_cells())
    glue = ["mnli", "sst2", "mrpc", "cola", "qnli", "qqp", "rte", "stsb"]
    for t in glue:
        assert {
            ("roberta-base", t, "lora"),
            ("roberta-large", t, "lora"),
            ("deberta-v2-xxlarge", t, "lora"),
        } <= cells
        assert {("roberta-large", t, "adapter_p"), ("roberta-large", t, "adapter_h")} <= cells
    for m in ("gpt2-medium", "gpt2-large"):
        assert {(m, t, "lora") for t in ("e2e", "webnlg", "dart")} <= cells
    for method in ("ft", "preembed", "prelayer", "bitfit", "adapter_h", "lora"):
        assert {("gpt3-175b", t, method) for t in ("wikisql", "mnli", "samsum")} <= cells
    assert {("gpt3-175b", t, "lora") for t in ("mnli_100", "mnli_1k", "mnli_10k")} <= cells


@pytest.mark.parametrize("model,task,method", _hparams_cells())
def test_every_hparams_file_composes(model, task, method):
    cfg = cell_config([f"model={model}", f"task={task}", f"method={method}", "profile=paper"])
    assert (cfg.model.name, cfg.task.name, cfg.method.name) == (model, task, method)
    assert cfg.hparams.source != "config.yaml defaults (no per-cell hyperparameter file)"
    for variant in cfg.hparams.variants:
        cell_config([f"model={model}", f"task={task}", f"method={method}", f"hparams.variant={variant}"])


def test_every_group_option_composes():
    for group in ("model", "task", "method", "profile", "logger"):
        for option in group_options(group):
            # method=fewshot is an evaluation mode: it composes only without a training step
            extra = ["train.epochs=0"] if (group, option) == ("method", "fewshot") else []
            cfg = cell_config([f"{group}={option}", *extra])
            assert cfg[group].name == option
    with pytest.raises(
        ValueError, match=r"method=fewshot trains nothing .*give train.epochs=0, got train.epochs=2"
    ):
        cell_config(["method=fewshot"])


def test_paper_values_and_documented_variants():
    base = ["model=roberta-base", "task=mnli", "method=lora", "profile=paper"]
    paper = cell_config(base)
    assert (paper.method.r, paper.method.alpha, paper.train.lr, paper.train.batch_size) == (8, 8, 5e-4, 16)
    assert cell_config([*base, "hparams.variant=reference"]).method.alpha == 16  # scripts: 16, Table 9: 8
    e2e = ["model=gpt2-medium", "task=e2e", "method=lora", "profile=paper"]
    assert cell_config(e2e).generation.length_penalty == 0.9  # paper Table 11 (README says 0.8)
    assert cell_config([*e2e, "hparams.variant=reference"]).generation.length_penalty == 0.8
    dagger = cell_config(
        ["model=roberta-large", "task=rte", "method=lora", "profile=paper", "hparams.variant=dagger"]
    )
    assert (dagger.init_from, dagger.train.max_length, dagger.train.batch_size) == ("pretrained", 128, 4)
    assert cell_config(["model=roberta-large", "task=rte", "method=lora"]).init_from == "mnli"
    deb = cell_config(
        ["model=deberta-v2-xxlarge", "task=cola", "method=lora", "profile=paper", "hparams.variant=reference"]
    )
    assert (deb.method.r, deb.method.alpha, deb.train.lr, deb.train.warmup_steps) == (16, 32, 1.3e-4, 100)
    with pytest.raises(ValueError, match="hparams.variant='nope' is not defined"):
        cell_config([*base, "hparams.variant=nope"])


def test_precedence_tiny_scale_then_command_line():
    e2e = ["model=gpt2-medium", "task=e2e", "method=lora"]
    tiny = cell_config(e2e)
    assert tiny.profile.name == "tiny" and tiny.train.epochs == 2 and tiny.generation.beam_size == 4
    assert tiny.train.warmup_steps is None and tiny.train.warmup_ratio == 0.06
    assert tiny.method.r == 4 and tiny.generation.length_penalty == 0.9  # paper values kept
    mine = cell_config([*e2e, "train.epochs=7", "generation.beam_size=3", "method.r=2"])
    assert (mine.train.epochs, mine.generation.beam_size, mine.method.r) == (7, 3, 2)


def test_tiny_profile_per_method_scale_after_the_common_one():
    pl = ["model=gpt2-medium", "task=e2e", "method=prelayer"]
    assert cell_config(pl).train.lr_scale == 100 and cell_config(pl).train.epochs == 2
    assert cell_config(["model=gpt2-medium", "task=e2e", "method=lora"]).train.lr_scale == 10
    assert cell_config([*pl, "profile=paper"]).train.lr_scale == 1.0
    assert cell_config([*pl, "train.lr_scale=3"]).train.lr_scale == 3  # the command line still wins


def test_hash_ignores_where_and_how_a_cell_runs(tmp_path):
    base = ["model=gpt2-medium", "task=e2e", "method=lora", "seed=1"]
    h = cell_hash(cell_config(base))
    assert len(h) == 12
    for ov in ("logger=wandb", f"run_dir={tmp_path}", "accelerate.num_processes=2", f"runs_root={tmp_path}"):
        assert cell_hash(cell_config([*base, ov])) == h
    for ov in ("seed=2", "train.lr=1e-3", "method.r=8", "hparams.variant=reference"):
        assert cell_hash(cell_config([*base, ov])) != h
    cfg = cell_config([*base, f"runs_root={tmp_path}"])
    assert cell_run_dir(cfg) == tmp_path / h
    assert cell_run_dir(cell_config([*base, f"run_dir={tmp_path / 'x'}"])) == tmp_path / "x"


def test_tiny_hash_names_the_pretrained_model_and_the_data_generators(monkeypatch):
    """A corpus, pretraining or generator change must give new tiny cells, not reuse old ones."""
    import lora_repro.tasks.sources as sources
    import lora_repro.tiny.pretrain as pretrain
    from lora_repro.train import cell

    base = ["model=roberta-base", "task=sst2", "method=lora", "seed=1"]
    tiny, paper = cell_config(base), cell_config([*base, "profile=paper"])
    h_tiny, h_paper = cell_hash(tiny), cell_hash(paper)
    try:
        monkeypatch.setattr(pretrain, "PRETRAIN_VERSION", "changed")
        cell._tiny_identity.cache_clear()
        assert cell_hash(tiny) != h_tiny
        assert cell_hash(paper) == h_paper  # hub weights: the tiny recipe does not matter
        monkeypatch.undo()
        cell._tiny_identity.cache_clear()
        assert cell_hash(tiny) == h_tiny
        monkeypatch.setattr(sources, "generator_version", lambda: "other-generators")
        cell._tiny_identity.cache_clear()
        assert cell_hash(tiny) != h_tiny
        assert cell_hash(paper) == h_paper
    finally:
        monkeypatch.undo()
        cell._tiny_identity.cache_clear()
    # a recipe change of the model's tiny block (e.g. more pretraining steps) is a new cell too
    assert cell_hash(cell_config([*base, "model.tiny.pretrain.steps=100"])) != h_tiny


def test_cli_cfg_job_prints_the_resolved_config(capsys):
    assert cli.main(["model=roberta-base", "task=sst2", "method=lora", "profile=paper", "--cfg", "job"]) == 0
    out = capsys.readouterr().out
    assert "name: roberta-base" in out and "lr: 0.0005" in out and "${" not in out


def test_bad_values_are_named():
    with pytest.raises(ValueError, match="init_from='nowhere'"):
        cell_config(["init_from=nowhere"])
    with pytest.raises(ValueError, match="unknown option"):
        cli.main(["--bogus"])
    with pytest.raises(ValueError, match="model"):
        cell_config(["model=nope"])
    with pytest.raises(ValueError, match="train.nokey"):
        cell_config(["train.nokey=3"])
