"""profile=paper: the hub ids, revisions and data_dirs of ../shared/DATASETS.md, without any network.

``datasets.load_dataset`` is replaced by a fake that records its arguments and returns the tiny data in
the hub's layout (the parquet converter's ``validation`` for WebNLG's ``dev``), so the paper code path
runs end to end up to the download.
"""

from __future__ import annotations

import datasets
import pytest
from datasets import DatasetDict

from lora_repro.tasks import get_task

SMALL = {"n_train": 10, "n_validation": 6, "n_test": 6}
EXPECTED = {
    "mnli": ("nyu-mll/glue", ("mnli",), {"revision": "main"}),
    "sst2": ("nyu-mll/glue", ("sst2",), {"revision": "main"}),
    "e2e": ("tuetschek/e2e_nlg", (), {"revision": "refs/convert/parquet", "data_dir": "default"}),
    "webnlg": (
        "webnlg-challenge/web_nlg",
        (),
        {"revision": "refs/convert/parquet", "data_dir": "webnlg_challenge_2017"},
    ),
    "dart": ("Yale-LILY/dart", (), {"revision": "refs/convert/parquet", "data_dir": "default"}),
    "wikisql": ("Salesforce/wikisql", (), {"revision": "refs/convert/parquet", "data_dir": "default"}),
    "samsum": ("knkarthick/samsum", (), {"revision": "main"}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_paper_profile_asks_the_hub_for_the_right_dataset(name, monkeypatch, cache_dir):
    tiny = get_task(name, tiny=SMALL, cache_dir=cache_dir)
    renamed = {"dev": "validation"}  # what refs/convert/parquet does to WebNLG's dev split
    hub = DatasetDict({renamed.get(s, s): tiny.load_split(s) for s in tiny.hub_splits})
    calls = []

    def fake_load_dataset(*args, **kwargs):
        calls.append((args, kwargs))
        return hub

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    task = get_task(name, profile="paper", cache_dir=cache_dir)
    for role in ("train", "validation", "test"):
        assert task.load(role).to_list() == tiny.load(role).to_list()
    repo, extra_args, kwargs = EXPECTED[name]
    args, got = calls[0]
    assert args == (repo, *extra_args)
    assert {k: got[k] for k in kwargs} == kwargs


def test_paper_profile_reports_a_missing_split(monkeypatch, cache_dir):
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: DatasetDict())
    with pytest.raises(ValueError, match="split 'test' not found"):
        get_task("e2e", profile="paper", cache_dir=cache_dir).load("test")


def test_options_from_a_hydra_config(cache_dir):
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"name": "sst2", "source": None, "seed": 3, "tiny": {"n_validation": 5}})
    task = get_task("sst2", cache_dir=cache_dir, **{k: v for k, v in cfg.items() if k != "name"})
    assert task.seed == 3 and task.tiny_sizes["n_validation"] == 5 and task.tiny_sizes["n_train"] == 3000
    assert len(task.load("validation")) == 5
    assert get_task("mnli").label_words == [" entailment", " neutral", " contradiction"]


def test_paper_profile_offline_is_one_clear_error(monkeypatch, cache_dir):
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'tuetschek/e2e_nlg' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(
        ValueError, match="could not load tuetschek/e2e_nlg .* use profile=tiny, or task.source"
    ):
        get_task("e2e", profile="paper", cache_dir=cache_dir).load("test")
