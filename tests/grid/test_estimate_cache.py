"""The GPU-hour formula, and the on-disk cache of resolved cell configs."""

import pytest

from lora_repro.grid.cells import CachedResolver, overrides_hash
from lora_repro.grid.estimate import config_epochs, gpu_hours


def test_full_finetuning_is_six_n_t():
    # MRPC: 3,668 examples x 50 tokens x 2 epochs; N = 1e9 all trainable; 408 x 50 tokens validated per epoch
    est = gpu_hours(10**9, 10**9, "mrpc", epochs=2, tflops=100.0)
    flops = 2 * 3668 * 50 * 6e9 + 2 * 408 * 50 * 2e9
    assert est.train_tokens == 2 * 3668 * 50
    assert est.gpu_hours == pytest.approx(flops / 100e12 / 3600)


def test_frozen_backbone_and_beam_search():
    # E2E, 1 epoch: 42,061 x 60 train tokens, 4,672 x 60 validation tokens, 630 inputs x 10 beams x 30 tokens
    lora = gpu_hours(10**8, 10**5, "e2e", epochs=1, tflops=50.0)
    flops = 42061 * 60 * (4e8 + 2e5) + 4672 * 60 * 2e8 + 630 * 10 * 30 * 2e8
    assert lora.gpu_hours == pytest.approx(flops / 50e12 / 3600)
    assert gpu_hours(10**8, 10**8, "e2e", epochs=1).gpu_hours > lora.gpu_hours
    with pytest.raises(ValueError, match="no size known for task 'xsum'"):
        gpu_hours(1, 1, "xsum")


def test_config_epochs_prefers_train_epochs():
    assert (
        config_epochs({"hparams": {"variants": {"a": {"train": {"epochs": 9}}}}, "train": {"epochs": 3}}) == 3
    )
    assert config_epochs({"other": {"num_epochs": 4}}) == 4 and config_epochs({}) is None


def test_cached_resolver_composes_once_per_fingerprint(tmp_path):
    calls = []

    def inner(overrides):
        calls.append(list(overrides))
        return overrides_hash(overrides), {"run_dir": None, "train": {"epochs": 5}, "big": "x" * 100}

    path = tmp_path / ".resolved.json"
    first = CachedResolver(inner, path, "fp1")
    assert first(["task=sst2", "seed=1"]) == (
        overrides_hash(["task=sst2", "seed=1"]),
        {"run_dir": None, "epochs": 5, "max_steps": None, "batch_size": None, "model": {}},
    )
    first(["task=sst2", "seed=1"])
    first.save()
    assert len(calls) == 1
    again = CachedResolver(inner, path, "fp1")
    assert again(["task=sst2", "seed=1"])[0] == overrides_hash(["task=sst2", "seed=1"]) and len(calls) == 1
    changed = CachedResolver(inner, path, "fp2")  # a config file changed: everything is resolved again
    changed(["task=sst2", "seed=1"])
    assert len(calls) == 2


def test_configs_fingerprint_follows_the_code_behind_the_tiny_identity(tmp_path, monkeypatch):
    """A tiny cell's hash names its tiny model and data generators: their code must invalidate the cache."""
    import lora_repro.config
    from lora_repro.grid.cells import configs_fingerprint

    (tmp_path / "configs" / "model").mkdir(parents=True)
    (tmp_path / "configs" / "model" / "m.yaml").write_text("name: m\n")
    monkeypatch.setattr(lora_repro.config, "config_dir", lambda: tmp_path / "configs")

    files = [
        "lora_repro/config.py", "lora_repro/train/cell.py", "lora_repro/tiny/pretrain.py",
        "lora_repro/tiny/tokenizer.py", "lora_repro/tasks/sources.py", "lora_repro/tiny/synthetic/corpus.py",
        "lora_repro/tiny/synthetic/glue.py", "lora_repro/metrics/other.py",
    ]  # fmt: skip
    for f in files:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text(f"# {f}\n")
    base = configs_fingerprint(tmp_path)
    (tmp_path / "lora_repro/metrics/other.py").write_text("# changed, but no cell hash depends on it\n")
    assert configs_fingerprint(tmp_path) == base
    for f in [*files[:-1], "configs/model/m.yaml"]:
        original = (tmp_path / f).read_text()
        (tmp_path / f).write_text(original + "CHANGED = 1\n")
        assert configs_fingerprint(tmp_path) != base, f
        (tmp_path / f).write_text(original)
    assert configs_fingerprint(tmp_path) == base
