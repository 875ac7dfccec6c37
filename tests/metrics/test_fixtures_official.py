"""Our E2E / WebNLG / DART scores equal the official scorers' on committed fixtures.

The fixtures (tests/fixtures/metrics/{e2e,webnlg,dart}.json) are hand-written: 16 E2E MRs, 18
WebNLG triple sets (10 seen, 8 unseen categories), 14 DART triple sets; 1-8 references per input,
unicode (£, é, ü, Ł, ², Korean, curly quotes, em dash), one empty hypothesis, one single-reference
group and one hypothesis identical to a reference in each; one DART group has 8 references (LoRA's
pipeline keeps the first 6). The ``official`` entry of each file holds the figures the official
scorers printed and returned; none of them was computed by lora-repro. How they were made
(2026-11-23, Python 3.11, Java 17, Perl 5.36; scorers fetched from GitHub, never committed):

1. A separate venv: ``python3 -m venv /tmp/offscorers && /tmp/offscorers/bin/pip install future
   pycocotools matplotlib scikit-image nltk==3.5 pyter3==0.3 tabulate==0.9.0 numpy``
   (GenerationEval pins tabulate 0.8.7, which does not import on Python 3.11; tabulate only prints).
2. E2E: tuetschek/e2e-metrics @ 1b9c4d87fd0bbb171ea966741cdc012588581ed4 exported to
   /tmp/e2e-metrics; its three jars (git-LFS-like blobs absent from the snapshot) copied from the
   pycocoevalcap 1.2 wheel after checking the git blob ids are identical (a833bc01 meteor-1.5.jar,
   88033c84 paraphrase-en.gz, 3cfa0a0b stanford-corenlp-3.4.1.jar). The fixture was written in the
   layout gpt2_decode.py --ref_type e2e writes (references one per line, blank line after each
   group; one hypothesis per line) and scored with the command microsoft/LoRA's README gives::

       cd /tmp/e2e-metrics && /tmp/offscorers/bin/python measure_scores.py e2e_ref.txt e2e_pred.txt -p

   ("printed"); "unrounded" = the same run's ``run_coco_eval(...).eval`` and ``run_pymteval(...)``
   (the functions measure_scores.evaluate calls) printed with full precision.
3. WebNLG / DART: WebNLG/GenerationEval @ 80678494f9ae49e8984d78d5efdec482bd37fc1d exported to
   /tmp/geneval, its eval.py replaced by microsoft/LoRA @ c4593f060e6a368d7bb5af5273b8e42810cdef90
   examples/NLG/eval/eval.py (as download_evalscript.sh does); metrics/meteor-1.5/meteor-1.5.jar =
   the original CMU jar shipped in pycocoevalcap (spice/lib/Meteor-1.5.jar) with data/paraphrase-en.gz
   next to it (the CMU tarball cannot be downloaded offline). Stubs for modules eval.py imports but
   LoRA's ``-m bleu,meteor,ter`` never calls: bert_score, razdel, metrics.bleurt; and nltk's
   ``word_tokenize`` patched to ``preserve_line=True`` (punkt data is not available offline; on the
   pre-tokenised text this does not change tokens, see ../shared/METRICS.md). Files written exactly
   as gpt2_decode.py --ref_type webnlg|dart --ref_num 6 --tokenize --lower (its post_process()
   function extracted from its source and executed; --filter seen/unseen for WebNLG S/U), with the
   final newline removed (microsoft/LoRA#138), then::

       cd /tmp/geneval && PYTHONPATH=/tmp/genstubs /tmp/offscorers/bin/python eval.py \\
           -R <dir>/reference -H <dir>/hypothesis -nr 6 -m bleu,meteor,ter

   ("printed", rounded by eval.py) and ``eval.run(...)`` of the same files ("unrounded"; its BLEU
   is multi-bleu-detok's 2-decimal print).

Tolerance: 0.01 on the paper's printed scale (BLEU 0-100; E2E METEOR/ROUGE_L x100; WebNLG/DART
METEOR/TER fractions), tighter where the official figure has full precision.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lora_repro.metrics import score
from lora_repro.metrics.cli import main as score_main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "metrics"


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def split(data: dict) -> tuple[list[str], list[list[str]]]:
    return [e["hypothesis"] for e in data["inputs"]], [e["references"] for e in data["inputs"]]


@pytest.mark.parametrize("name", ["e2e", "webnlg", "dart"])
def test_fixture_covers_the_edge_cases(name):
    hyps, refs = split(load(name))
    assert 10 <= len(hyps) <= 40
    assert "" in hyps
    assert any(len(g) == 1 for g in refs)
    assert any(h in g for h, g in zip(hyps, refs, strict=True) if h)
    assert any(ord(c) > 127 for h in hyps for c in h)
    assert max(len(g) for g in refs) >= 3


def test_e2e_equals_measure_scores():
    data = load("e2e")
    ours = score("e2e", *split(data))
    official = data["official"]["unrounded"]
    assert ours["BLEU"] == pytest.approx(100 * official["BLEU"], abs=1e-6)
    assert ours["NIST"] == pytest.approx(official["NIST"], abs=1e-6)
    assert ours["METEOR"] == pytest.approx(100 * official["METEOR"], abs=1e-6)
    assert ours["ROUGE_L"] == pytest.approx(100 * official["ROUGE_L"], abs=1e-6)
    assert ours["CIDEr"] == pytest.approx(official["CIDEr"], abs=1e-6)
    # and the 4-decimal figures measure_scores.py printed, on the paper's scale
    printed = dict(line.split(": ") for line in data["official"]["printed"].splitlines() if ": " in line)
    for key, factor in (("BLEU", 100), ("NIST", 1), ("METEOR", 100), ("ROUGE_L", 100), ("CIDEr", 1)):
        assert ours[key] == pytest.approx(factor * float(printed[key]), abs=0.01)


def test_webnlg_equals_generationeval_per_category():
    data = load("webnlg")
    hyps, refs = split(data)
    ours = score("webnlg", hyps, refs, seen=[e["seen"] for e in data["inputs"]])
    for cat in ("A", "S", "U"):
        official = data["official"]["unrounded"][cat]
        assert ours[f"BLEU_{cat}"] == pytest.approx(official["BLEU"], abs=0.005 + 1e-9)  # 2-decimal print
        assert ours[f"METEOR_{cat}"] == pytest.approx(official["METEOR"], abs=1e-9)
        assert ours[f"TER_{cat}"] == pytest.approx(official["TER"], abs=1e-9)
    for key in ("BLEU", "METEOR", "TER"):
        assert ours[key] == ours[f"{key}_A"]
    # the same categories given by name (WebNLG 2017 seen list) give the same split
    by_name = score("webnlg", hyps, refs, categories=[e["category"] for e in data["inputs"]])
    assert by_name["TER_U"] == pytest.approx(ours["TER_U"], abs=1e-12)


def test_dart_equals_generationeval():
    data = load("dart")
    ours = score("dart", *split(data))
    official = data["official"]["unrounded"]["A"]
    assert ours["BLEU"] == pytest.approx(official["BLEU"], abs=0.005 + 1e-9)
    assert ours["METEOR"] == pytest.approx(official["METEOR"], abs=1e-9)
    assert ours["TER"] == pytest.approx(official["TER"], abs=1e-9)


def test_cli_on_the_e2e_layout_reproduces_the_official_figures(tmp_path, capsys):
    data = load("e2e")
    hyps, refs = split(data)
    (tmp_path / "pred.txt").write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
    (tmp_path / "ref.txt").write_text(
        "".join("".join(r + "\n" for r in g) + "\n" for g in refs), encoding="utf-8"
    )
    argv = ["task=e2e", f"predictions={tmp_path / 'pred.txt'}", f"references={tmp_path / 'ref.txt'}"]
    assert score_main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert list(printed)[:5] == ["BLEU", "NIST", "METEOR", "ROUGE_L", "CIDEr"]
    official = data["official"]["unrounded"]
    assert printed["BLEU"] == pytest.approx(100 * official["BLEU"], abs=0.01)
    assert printed["METEOR"] == pytest.approx(100 * official["METEOR"], abs=0.01)
    assert printed["CIDEr"] == pytest.approx(official["CIDEr"], abs=0.01)


def test_cli_webnlg_with_meta_file(tmp_path, capsys):
    data = load("webnlg")
    hyps, refs = split(data)
    (tmp_path / "pred.txt").write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
    (tmp_path / "ref.txt").write_text(
        "".join("".join(r + "\n" for r in g) + "\n" for g in refs), encoding="utf-8"
    )
    (tmp_path / "meta.jsonl").write_text(
        "".join(json.dumps({"seen": e["seen"]}) + "\n" for e in data["inputs"])
    )
    argv = ["task=webnlg", f"predictions={tmp_path / 'pred.txt'}", f"references={tmp_path / 'ref.txt'}"]
    assert score_main([*argv, f"meta={tmp_path / 'meta.jsonl'}"]) == 0
    printed = json.loads(capsys.readouterr().out)
    for cat in ("S", "U", "A"):
        assert printed[f"BLEU_{cat}"] == pytest.approx(data["official"]["unrounded"][cat]["BLEU"], abs=0.01)
        assert printed[f"TER_{cat}"] == pytest.approx(data["official"]["unrounded"][cat]["TER"], abs=0.01)
