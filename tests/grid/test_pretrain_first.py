"""From an empty cache the grid pretrains the tiny models it needs, several at once, before any cell."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lora_repro.grid import cli
from lora_repro.tiny.pretrain import tiny_model_dir

pytestmark = pytest.mark.slow
QUICK = {"steps": 2, "batch_size": 2, "seq_len": 16, "corpus_size": 40}


def _cell(model: str, *overrides: str, done: bool = False):
    return SimpleNamespace(model=model, overrides=(f"model={model}", *overrides), done=done)


def test_missing_tiny_models_are_pretrained_two_at_a_time(tmp_path, monkeypatch):
    real = cli.load_group_file

    def quick(group, name):  # the models' own configs with a few-step recipe (passed on to the workers)
        cfg = real(group, name)
        if group == "model":
            cfg["tiny"] = {**cfg["tiny"], "pretrain": QUICK}
        return cfg

    monkeypatch.setattr(cli, "load_group_file", quick)
    cache = f"profile.cache_dir={tmp_path}"
    grid = SimpleNamespace(
        profile="tiny",
        cells=[
            _cell("gpt2-medium", cache), _cell("gpt2-medium", cache), _cell("roberta-base", cache),
            _cell("gpt2-large", cache, done=True),  # finished: its model is not needed
            _cell("roberta-large", cache, f"model.path={tmp_path / 'local'}"),  # a local model
        ],
    )  # fmt: skip
    todo = cli.missing_tiny_models(grid)
    expected = {
        str(tiny_model_dir(quick("model", m), str(tmp_path))) for m in ("gpt2-medium", "roberta-base")
    }
    assert set(todo) == expected
    made = cli.pretrain_first(grid, jobs=2)
    assert set(made) == expected
    assert all((tmp_path / "models" / p.split("/")[-1] / "config.json").is_file() for p in made)
    assert cli.missing_tiny_models(grid) == {} and cli.pretrain_first(grid, jobs=2) == []
    assert cli.missing_tiny_models(SimpleNamespace(profile="paper", cells=grid.cells)) == {}
