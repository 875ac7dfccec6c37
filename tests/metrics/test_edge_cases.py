"""The edge cases the official NLG scorers handle, with values worked out by hand."""

from __future__ import annotations

import math
import os
import warnings

import pytest

from lora_repro.cli import main as lora_main
from lora_repro.metrics import score

NLG = ["e2e", "webnlg", "dart"]
CAT = "the cat sat on the mat"
# hypothesis = reference minus its last word: every n-gram matches, brevity penalty exp(1 - 7/6);
# TER = one insertion over 7 reference words.
SHORT_BLEU = 100 * math.exp(1 - 7 / 6)


@pytest.mark.parametrize("metric", NLG)
def test_hypothesis_identical_to_a_reference_scores_bleu_100(metric):
    refs = [["A different sentence about dogs .", "Café Zürich serves crème brûlée for £20 ."]]
    out = score(metric, ["Café Zürich serves crème brûlée for £20 ."], refs)
    assert out["BLEU"] == pytest.approx(100.0, abs=1e-9)
    if metric == "e2e":
        assert out["ROUGE_L"] == pytest.approx(100.0)
        assert out["METEOR"] > 90.0
    else:
        assert out["TER"] == 0.0
        assert out["METEOR"] > 0.9


@pytest.mark.parametrize("metric", NLG)
def test_one_reference_group(metric):
    out = score(metric, [CAT], [[CAT + " today"]])
    assert out["BLEU"] == pytest.approx(SHORT_BLEU, abs=1e-9)
    if metric != "e2e":
        assert out["TER"] == pytest.approx(1 / 7)


@pytest.mark.parametrize("metric", NLG)
def test_empty_hypothesis_scores_zero_and_does_not_shift_the_others(metric):
    refs = [["The Mill is a pub ."], ["Zizzi is a pub in the city centre ."]]
    alone = score(metric, ["", "Zizzi is a pub in the city centre ."], refs)
    empty = score(metric, [""], refs[:1])
    assert empty["BLEU"] == pytest.approx(0.0, abs=1e-6)
    if metric == "e2e":
        assert empty["ROUGE_L"] == 0.0 and empty["CIDEr"] == 0.0 and empty["METEOR"] == 0.0
        assert alone["ROUGE_L"] == pytest.approx(50.0)  # (0 + 100) / 2: the pairing survived tokenisation
    else:
        assert empty["TER"] == 1.0  # every reference word inserted
        assert alone["TER"] == pytest.approx(0.5)


def test_unicode_is_kept_through_the_java_tokenizer():
    # PTB tokenisation must keep one line per segment whatever the characters
    hyps = ["Łódź — “quoted” café", "비빔밥 is Korean", "plain ascii text here"]
    refs = [["Łódź — “quoted” café"], ["비빔밥 is Korean"], ["something else entirely , really"]]
    out = score("e2e", hyps, refs)
    assert out["ROUGE_L"] == pytest.approx(200 / 3)


@pytest.mark.parametrize("metric", [*NLG, "samsum"])
def test_count_mismatch_names_both_counts(metric):
    with pytest.raises(ValueError, match="2 predictions but 3 reference groups"):
        score(metric, ["a b", "c d"], [["a b"], ["c d"], ["e f"]])


def test_group_without_reference_is_rejected():
    with pytest.raises(ValueError, match="input 1 has no reference"):
        score("dart", ["a b", "c d"], [["a b"], []])


def test_unknown_metric_and_option():
    with pytest.raises(ValueError, match="unknown metric 'bleu'; allowed: glue_mnli"):
        score("bleu", ["a"], [["a"]])
    with pytest.raises(ValueError, match="takes no option 'seen'"):
        score("dart", ["a"], [["a"]], seen=[True])


def test_cli_count_mismatch_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "p.txt").write_text("one\ntwo\n")
    (tmp_path / "r.txt").write_text("one\nuno\n\ntwo\n\nthree\n\n")
    code = lora_main(
        ["score", "task=e2e", f"predictions={tmp_path / 'p.txt'}", f"references={tmp_path / 'r.txt'}"]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "has 2 predictions but" in err and "has 3 reference groups" in err


def _no_java(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no java on PATH


def test_java_missing_makes_meteor_unavailable_not_substituted(monkeypatch, tmp_path):
    _no_java(monkeypatch, tmp_path)
    with pytest.warns(RuntimeWarning, match="METEOR unavailable: java not found on PATH"):
        out = score("dart", [CAT], [[CAT + " today"]])
    assert "METEOR" not in out
    assert "java not found on PATH" in out.unavailable["METEOR"] and "install" in out.unavailable["METEOR"]
    assert out["BLEU"] == pytest.approx(SHORT_BLEU)
    assert out["TER"] == pytest.approx(1 / 7)


def test_java_missing_e2e_keeps_bleu_nist_and_names_the_rest(monkeypatch, tmp_path):
    _no_java(monkeypatch, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = score("e2e", [CAT], [[CAT + " today"]])
    assert set(out) == {"BLEU", "NIST"}
    assert set(out.unavailable) == {"METEOR", "ROUGE_L", "CIDEr"}
    assert all("java not found" in reason for reason in out.unavailable.values())


def test_java_missing_in_the_cli_prints_null_and_the_reason(monkeypatch, tmp_path, capsys):
    import json

    (tmp_path / "p.txt").write_text(CAT + "\n")
    (tmp_path / "r.txt").write_text(CAT + " today\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _no_java(monkeypatch, bin_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        code = lora_main(
            ["score", "task=webnlg", f"predictions={tmp_path / 'p.txt'}", f"references={tmp_path / 'r.txt'}"]
        )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["METEOR"] is None and "java not found" in out["unavailable"]["METEOR"]
    assert out["BLEU"] == pytest.approx(SHORT_BLEU)


def test_one_meteor_jvm_is_reused_and_nothing_is_written_into_site_packages():
    from pycocoevalcap.tokenizer import ptbtokenizer

    from lora_repro.metrics import java

    tok_dir = os.path.dirname(ptbtokenizer.__file__)
    before = sorted(os.listdir(tok_dir))
    score("dart", [CAT], [[CAT]])
    first = java._meteor.meteor_p.pid
    score("e2e", [CAT], [[CAT]])
    assert java._meteor.meteor_p.pid == first
    assert sorted(os.listdir(tok_dir)) == before


def test_check_java_for_make_setup(monkeypatch, tmp_path):
    from lora_repro.metrics.java import JavaUnavailable, check_java

    assert check_java().startswith("java: ")
    _no_java(monkeypatch, tmp_path)
    with pytest.raises(JavaUnavailable, match="apt-get install default-jre-headless"):
        check_java()


def test_a_dead_meteor_jvm_is_restarted():
    from lora_repro.metrics import java

    first = score("dart", [CAT], [[CAT + " today"]])["METEOR"]
    java._meteor.meteor_p.kill()
    java._meteor.meteor_p.wait()
    assert score("dart", [CAT], [[CAT + " today"]])["METEOR"] == first
    java.close_meteor()
    assert java._meteor is None


def test_webnlg_seen_flags_and_categories_are_checked():
    with pytest.raises(ValueError, match="got 1 predictions but 2 seen flags"):
        score("webnlg", [CAT], [[CAT]], seen=[True, False])
    with pytest.raises(ValueError, match="seen must hold booleans, got 'yes'"):
        score("webnlg", [CAT], [[CAT]], seen=["yes"])
    with pytest.raises(ValueError, match="'Company' is not a WebNLG 2017 category"):
        score("webnlg", [CAT], [[CAT]], categories=["Company"])
