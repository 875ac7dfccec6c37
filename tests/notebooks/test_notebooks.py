"""notebooks/quickstart.ipynb and notebooks/tables.ipynb run top to bottom in a real kernel; every
notebook in notebooks/ is committed with outputs stripped and executed by some test (efficiency.ipynb in
test_efficiency_notebook.py, section7.ipynb in tests/analysis/test_notebook.py)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

QUICKSTART_CHECK = """
import json
print(json.dumps({
    "counts": counts,
    "expected_theta": expected_theta,
    "roberta_base_adapter": roberta_base["adapter"],
    "first_loss": losses[0],
    "last_loss": losses[-1],
    "roundtrip_diff": roundtrip_diff,
    "merge_diff": merge_diff,
    "peft_diff": peft_diff,
    "all_merged": all(m.merged for m in model.modules() if hasattr(m, "lora_A")),
    "adapter_files": sorted(p.name for p in adapter_dir.iterdir()),
    "peft_type": json.loads((adapter_dir / "adapter_config.json").read_text()).get("peft_type"),
}))
"""

TABLES_CHECK = """
import json
print(json.dumps({
    "tables": sorted(TABLES),
    "rows": {k: len(t.rows) for k, t in TABLES.items()},
    "columns": {k: t.columns for k, t in TABLES.items()},
    "figure_bytes": {k: p.stat().st_size for k, p in FIGURES.items()},
    "mean_diff_lora_base": summary["table2"]["RoB-base (LoRA)"]["mean_diff"],
}))
"""


def _execute(name: str, check: str, tmp_path: Path) -> dict:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(check))  # read the notebook's own results back
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    return json.loads("".join(o["text"] for o in nb.cells[-1].outputs if o.get("name") == "stdout"))


ALL = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
TESTS = Path(__file__).resolve().parents[1]


def test_every_notebook_is_executed_by_a_test():
    """A new notebook without a test that runs it would rot: each one is named in a test file that executes
    notebooks with nbclient."""
    executing = [p.read_text() for p in TESTS.rglob("test_*.py") if "NotebookClient(" in p.read_text()]
    assert len(ALL) >= 4
    missing = [name for name in ALL if not any(name in text for text in executing)]
    assert not missing, f"notebooks no test executes: {missing}"


@pytest.mark.parametrize("name", ALL)
def test_the_notebook_is_committed_without_outputs(name):
    nb = json.loads((NOTEBOOKS / name).read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.slow
def test_quickstart_applies_trains_merges_saves_and_loads_into_peft(tmp_path):
    out = _execute("quickstart.ipynb", QUICKSTART_CHECK, tmp_path)
    # 2 layers x (q, v) x (A: r x d + B: d x r), d = 32, r = 4
    assert out["counts"]["adapter"] == out["expected_theta"] == 2 * 2 * 2 * 32 * 4
    assert (
        out["counts"]["head"] > 0
        and out["counts"]["trainable"] == out["counts"]["adapter"] + out["counts"]["head"]
    )
    assert out["roberta_base_adapter"] == 2 * 12 * 2 * 768 * 8  # Table 2's 0.3M
    assert out["last_loss"] < 0.5 * out["first_loss"]  # it trained
    assert out["roundtrip_diff"] <= 1e-5 and out["merge_diff"] <= 1e-5 and out["peft_diff"] <= 1e-5
    assert out["adapter_files"] == ["adapter_config.json", "adapter_model.safetensors"]
    assert out["peft_type"] == "LORA" and out["all_merged"]


@pytest.mark.slow
def test_tables_notebook_plots_every_committed_results_table(tmp_path):
    out = _execute("tables.ipynb", TABLES_CHECK, tmp_path)
    assert {"table2", "table3"} <= set(out["tables"])
    assert "table9" not in out["tables"]  # an hparams audit, no ours-vs-paper numbers
    assert out["rows"]["table2"] >= 13 and out["rows"]["table3"] >= 12
    assert out["columns"]["table3"] == ["BLEU", "NIST", "METEOR", "ROUGE_L", "CIDEr"]
    assert all(size > 10_000 for size in out["figure_bytes"].values())
    assert -100 < out["mean_diff_lora_base"] < 0  # the tiny profile is far below the paper
