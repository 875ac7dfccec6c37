"""The CPU variant of `make gpu-check` runs in seconds, so its GPU paths cannot rot before a GPU is there."""

from __future__ import annotations

from lora_repro.bench import gpu_check
from lora_repro.bench.report import mean_ci
from lora_repro.bench.suite import body
from lora_repro.bench.timing import interleaved
from lora_repro.cli import main as cli


def test_gpu_check_cpu_variant_passes_and_writes_its_report(tmp_path):
    argv = [
        "bench",
        "gpu-check",
        "device=cpu",
        "steps=4",
        "latency=false",
        "train_cost=false",
        f"out={tmp_path}",
    ]
    assert cli(argv) == 0
    md = (tmp_path / "gpu-check.md").read_text()
    assert "7 of 7 checks passed" in md and "FAILED" not in md
    assert "fp16 autocast + loss scaling" in md and "beam search" in md
    # the sharded cells ran through accelerate launch and trained (one gloo process on a CPU)
    assert "| FSDP cell | ok |" in md and "| DeepSpeed ZeRO-2 cell | ok |" in md
    assert md.count("1 process(es), train loss") == 2


def test_gpu_check_exits_non_zero_when_a_check_fails(tmp_path, monkeypatch):
    def broken(*_a, **_k):
        raise AssertionError("loss did not go down")

    monkeypatch.setattr(gpu_check, "beam_search", broken)
    argv = [
        "bench",
        "gpu-check",
        "device=cpu",
        "steps=2",
        "latency=false",
        "train_cost=false",
        "sharded=false",
        f"out={tmp_path}",
    ]
    assert cli(argv) == 1
    assert "| FAILED |" in (tmp_path / "gpu-check.md").read_text()


def test_interleaved_times_every_variant_in_rotating_order():
    calls: list[str] = []
    timing = interleaved({k: (lambda k=k: calls.append(k)) for k in "abc"}, trials=3, warmup=1)
    assert calls[:3] == list("abc") and calls[3:] == list("abc") + list("bca") + list("cab")
    assert all(len(v) == 3 for v in timing.times.values())


def test_mean_ci_is_students_t():
    mean, half = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and abs(half - 2.4841) < 1e-3  # t(0.975, 2) * 1 / sqrt(3)


def test_efficiency_md_sections_drop_the_repeated_header(tmp_path):
    f = tmp_path / "x.md"
    f.write_text(
        "# T\n\nProduced by `x`.  \nDevice: d.  \nEnvironment: e.  \nLoad average 1.  \nNote n.  \n\n| a |\n"
    )
    assert body(f) == ["Produced by `x`.  ", "Note n.  ", "", "| a |"]
