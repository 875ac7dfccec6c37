"""The lock files, the check that `make setup` runs against them, and the environment block of a result."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lora_repro.environment import (
    compare_with_lock,
    environment,
    environment_key,
    environment_of,
    environment_text,
    normalize,
    read_lock,
)

ROOT = Path(__file__).resolve().parents[1]
CPU, CUDA = ROOT / "requirements" / "lock-cpu.txt", ROOT / "requirements" / "lock-cuda.txt"


def test_locks_pin_the_torch_builds_and_agree_on_everything_else():
    cpu, cuda = read_lock(CPU), read_lock(CUDA)
    assert cpu["torch"] == "2.13.0+cpu" and cuda["torch"] == "2.13.0"
    assert not any(n.startswith("nvidia-") for n in cpu) and "nvidia-cublas" in cuda
    shared = set(cpu) & set(cuda) - {"torch"}
    assert {"transformers", "tokenizers", "datasets", "accelerate", "peft", "pip", "setuptools"} <= shared
    assert {n: cpu[n] for n in shared} == {n: cuda[n] for n in shared}
    assert set(cpu) - set(cuda) == set()  # the CUDA lock only adds torch's NVIDIA runtime


def test_every_pin_has_a_hash():
    text = CPU.read_text()
    blocks = [b for b in text.split("\n") if "==" in b and not b.lstrip().startswith("#")]
    assert blocks and all(b.rstrip().endswith("\\") for b in blocks)  # each pin continues with --hash lines
    assert text.count("--hash=sha256:") >= len(blocks)


def test_read_lock_parses_pins_and_refuses_anything_else(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text("# c\nPyYAML==6.0.4 \\\n    --hash=sha256:ab\n    # via x\nhuggingface_hub==2.4.0\n")
    assert read_lock(lock) == {"pyyaml": "6.0.4", "huggingface-hub": "2.4.0"}
    lock.write_text("torch>=2.1\n")
    with pytest.raises(ValueError, match="'torch>=2.1' is not a name==version pin"):
        read_lock(lock)


def test_compare_with_lock_names_each_difference():
    lock = {"torch": "2.13.0+cpu", "transformers": "5.24.0", "tokenizers": "0.23.2"}
    have = {"torch": "2.13.0+cpu", "transformers": "5.23.0", "lora-repro": "0.1.0", "jupyter": "1.0"}
    problems, extras = compare_with_lock(have, lock)
    assert problems == [
        "tokenizers: locked at 0.23.2, not installed",
        "transformers: locked at 5.24.0, installed 5.23.0",
    ]
    assert extras == ["jupyter==1.0"]  # lora-repro itself is installed on top of the lock
    assert compare_with_lock(dict(lock), lock) == ([], [])


def test_check_lock_command_fails_on_a_mismatch(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text("pytest==0.0.1\n")
    out = subprocess.run([sys.executable, "-m", "lora_repro.environment", "--check-lock", str(lock)],
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 1
    assert "lock mismatch: pytest: locked at 0.0.1, installed" in out.stderr
    missing = subprocess.run([sys.executable, "-m", "lora_repro.environment", "--check-lock", "nope.txt"],
                             capture_output=True, text=True)  # fmt: skip
    assert missing.returncode == 2 and "no lock file 'nope.txt'" in missing.stderr


def test_environment_block_and_its_key():
    import tokenizers
    import torch
    import transformers

    env = environment()
    assert env["packages"]["torch"] == torch.__version__
    assert env["packages"]["transformers"] == transformers.__version__
    assert env["packages"]["tokenizers"] == tokenizers.__version__
    assert env["device"]["kind"] in ("cpu", "cuda") and env["device"]["count"] >= 1
    key = dict(environment_key(env))
    assert key["transformers"] == transformers.__version__ and key["python"] == env["python"]
    text = environment_text(environment_key(env))
    assert text.startswith(f"Python {env['python']}, torch ") and " on " in text


def test_results_written_before_the_block_existed_still_name_their_versions():
    old = {
        "versions": {
            "python": "3.11.7",
            "torch": "2.13.0+cpu",
            "transformers": "5.23.0",
            "lora_repro": "0.1.0",
        }
    }
    key = dict(environment_key(environment_of(old)))
    assert key["transformers"] == "5.23.0" and key["device"] == "?" and key["tokenizers"] == "?"
    assert environment_text(environment_key(environment_of({}))) == "environment not recorded"


def test_lora_repro_env_prints_the_block():
    out = subprocess.run([sys.executable, "-m", "lora_repro.cli", "env"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    import transformers

    assert f"transformers {transformers.__version__}" in " ".join(out.stdout.split())
    assert "device" in out.stdout


def test_normalize():
    assert normalize("PyYAML") == "pyyaml" and normalize("typing_extensions") == normalize(
        "typing-extensions"
    )
