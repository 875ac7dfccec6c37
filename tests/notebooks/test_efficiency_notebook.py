"""notebooks/efficiency.ipynb runs top to bottom in a real kernel, and is committed with outputs stripped."""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "efficiency.ipynb"

CHECK = """
import contextlib, io, json
note = io.StringIO()
with contextlib.redirect_stdout(note):
    absent = read_results("no-such-results-file.csv")
print(json.dumps({
    "d": D,
    "layers": LAYERS,
    "merge_diff": merge_diff,
    "lora_effect": lora_effect,
    "thetas": thetas,
    "timing_ms": timing_ms,
    "pct": {k: v[0] for k, v in pct.items()},
    "ft_tb": ft_tb,
    "lora_gb": lora_gb,
    "ft_ckpt_gb": ft_ckpt_gb,
    "lora_ckpt_mb": lora_ckpt_mb,
    "loaded": {k: (None if v is None else len(v)) for k, v in LOADED.items()},
    "absent_skipped": absent is None and "no-such-results-file.csv is absent" in note.getvalue(),
}))
"""


def _execute(check: str, tmp_path: Path) -> dict:
    """Run the notebook with ``check`` appended, in ``tmp_path``; the JSON that ``check`` prints."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(check))  # read the notebook's own results back
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    return json.loads("".join(o["text"] for o in nb.cells[-1].outputs if o.get("name") == "stdout"))


def test_the_efficiency_notebook_is_committed_without_outputs():
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.slow
def test_efficiency_notebook_merges_counts_times_and_reproduces_the_gpt3_arithmetic(tmp_path: Path):
    out = _execute(CHECK, tmp_path)
    assert out["d"] == 1024 and out["layers"] == 1  # GPT-2 medium's real width, one block
    # merging changes nothing (and LoRA's B is not zero, so the check is not vacuous)
    assert out["merge_diff"] < 1e-4 and out["lora_effect"] > 1e-3
    # |Θ| by hand, 1 block of width 1024 (docs/efficiency.md's bottlenecks at 0.5M: r = 5, 9, 5)
    lora, adapter_l, adapter_h = (out["thetas"][k] for k in ("lora", "adapter_l", "adapter_h"))
    assert lora["r"] == 5 and lora["counted"] == 2 * (1024 * 5 + 5 * 1024) == 20_480
    assert lora["theta_24"] == 491_520  # docs/efficiency.md: r=5 -> 491,520 at 24 layers
    assert adapter_l["r"] == 9 and adapter_l["counted"] == 2 * 1024 * 9 + 9 + 1024 + 2 * 1024
    assert adapter_h["r"] == 5 and adapter_h["counted"] == 2 * (2 * 1024 * 5 + 5 + 1024)
    # timings: a demo, only sane
    assert set(out["timing_ms"]) == {
        "FT", "LoRA merged", "LoRA unmerged 0.5M", "Adapter^L 0.5M", "Adapter^H 0.5M",
    }  # fmt: skip
    assert all(math.isfinite(v) and v > 0 for v in out["timing_ms"].values())
    assert set(out["pct"]) == set(out["timing_ms"]) - {"FT"}
    assert all(math.isfinite(v) for v in out["pct"].values())
    # §4.2: 1.2 TB -> 350 GB training VRAM, 350 GB -> 35 MB checkpoint (fp16)
    assert 1.2 <= out["ft_tb"] <= 1.5
    assert 340 <= out["lora_gb"] <= 360
    assert 340 <= out["ft_ckpt_gb"] <= 360
    assert 30 <= out["lora_ckpt_mb"] <= 40
    # the committed results: read where present, skipped (None) where absent, never an error
    results = Path(__file__).resolve().parents[2] / "results" / "cpu"
    for name, n in out["loaded"].items():
        assert (n is None) == (not (results / name).is_file())
        assert n is None or n >= 1
    assert out["absent_skipped"]  # a missing file is a printed note, not an error
