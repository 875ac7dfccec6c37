"""``lora-repro score`` on the GLUE, SAMSum and WikiSQL layouts, and its input errors."""

from __future__ import annotations

import json

import pytest

from lora_repro.cli import main as lora_main
from lora_repro.metrics.cli import read_groups


def run(tmp_path, capsys, task, preds, refs, meta=None):
    (tmp_path / "p.txt").write_text(preds, encoding="utf-8")
    (tmp_path / "r.txt").write_text(refs, encoding="utf-8")
    argv = ["score", f"task={task}", f"predictions={tmp_path / 'p.txt'}", f"references={tmp_path / 'r.txt'}"]
    if meta is not None:
        (tmp_path / "m.jsonl").write_text(meta, encoding="utf-8")
        argv.append(f"meta={tmp_path / 'm.jsonl'}")
    code = lora_main(argv)
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else captured.err.strip())


def test_glue_tasks_by_plain_name(tmp_path, capsys):
    assert run(tmp_path, capsys, "mrpc", "1\n1\n0\n0\n1\n", "1\n0\n0\n1\n1\n") == (
        0,
        {"accuracy": pytest.approx(60.0), "f1": pytest.approx(200 / 3)},
    )
    code, out = run(tmp_path, capsys, "stsb", "1.0\n2.0\n3.5\n", "2\n4\n6\n")
    assert code == 0 and out["spearman"] == pytest.approx(100.0)
    code, out = run(tmp_path, capsys, "mnli", "entailment\nneutral\n", "entailment\ncontradiction\n")
    assert (code, out) == (0, {"accuracy": 50.0})


def test_samsum(tmp_path, capsys):
    code, out = run(tmp_path, capsys, "samsum", "A b. C d.\n", "C d. A b.\n")
    assert code == 0 and list(out) == ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    assert out["rougeL"] == pytest.approx(50.0)


def test_wikisql_with_meta(tmp_path, capsys):
    table = {"header": ["Player", "No."], "types": ["text", "real"], "rows": [["Tom", "42"], ["Ann", "7"]]}
    meta = json.dumps({"table": table}) + "\n" + json.dumps({"table": table}) + "\n"
    preds = "SELECT Player FROM table WHERE No. = 42\nSELECT Player FROM table WHERE No. = 7\n"
    refs = "SELECT Player FROM table WHERE No. = 42\nSELECT Player FROM table WHERE No. > 40\n"
    assert run(tmp_path, capsys, "wikisql", preds, refs, meta) == (
        0,
        {"lf_accuracy": 50.0, "ex_accuracy": 50.0},
    )
    code, err = run(tmp_path, capsys, "wikisql", preds, refs)
    assert code == 2 and "needs meta=<jsonl file>" in err


@pytest.mark.parametrize(
    ("task", "meta", "message"),
    [
        ("bleu", None, "unknown task 'bleu'; allowed: mnli"),
        ("dart", '{"seen": true}\n', "takes no meta file"),
        ("webnlg", '{"seen": true}\n', "got 2 predictions but 1 meta lines"),
        ("webnlg", '{"x": 1}\n{"x": 2}\n', 'need "seen" (bool) or "category"'),
    ],
)
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, task, meta, message):
    code, err = run(tmp_path, capsys, task, "a b\nc d\n", "a b\n\nc d\n\n", meta)
    assert code == 2
    assert err.startswith("lora-repro score: error:") and message in err and len(err.splitlines()) == 1


def test_missing_file_and_argument(tmp_path, capsys):
    assert lora_main(["score", "task=e2e", f"predictions={tmp_path / 'nope.txt'}", "references=x"]) == 2
    assert "predictions file not found" in capsys.readouterr().err
    assert lora_main(["score", "task=e2e"]) == 2
    assert "missing predictions=" in capsys.readouterr().err


def test_read_groups_layouts(tmp_path):
    p = tmp_path / "r.txt"
    p.write_text("a\nb\n\nc\n\n\n")
    assert read_groups(str(p)) == [["a", "b"], ["c"]]
    p.write_text("a\nb\nc")  # no blank line: one reference per input, as e2e-metrics reads it
    assert read_groups(str(p)) == [["a"], ["b"], ["c"]]
