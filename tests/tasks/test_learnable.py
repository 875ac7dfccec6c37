"""The tiny twins are learnable but not trivial: no majority class, no give-away word, no copy-the-input."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from lora_repro.tasks import get_task

SIZES = {"n_train": 1200, "n_validation": 400, "n_test": 200}
CLASSIFICATION = ["sst2", "cola", "mrpc", "qqp", "mnli", "qnli", "rte"]


def _pair_text(ex):
    """Sentence (pair) as one string; words of the second sentence are marked by whether the first has them."""
    a, b = ex["text"], ex["text_pair"]
    if not b:
        return a
    seen = set(a.lower().replace(".", " ").split())
    return (
        a
        + " SEP "
        + " ".join(("IN_" if w in seen else "OUT_") + w for w in b.lower().replace(".", " ").split())
    )


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_classification_is_not_trivial_but_learnable(name, cache_dir):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    task = get_task(name, tiny=SIZES, cache_dir=cache_dir)
    train, val = task.load("train"), task.load("validation")
    y, yv = np.array(train["label"]), np.array(val["label"])
    majority = Counter(y.tolist()).most_common(1)[0][1] / len(y)
    assert majority < (0.4 if name == "mnli" else 0.6)
    assert len(set(y.tolist())) == task.num_labels
    # no single word (present/absent) predicts the label much better than the majority class
    texts = [f"{r['text']} {r['text_pair'] or ''}" for r in map(task.format, train)]
    bow = CountVectorizer(token_pattern=r"[^ ]+", binary=True).fit_transform(texts).tocsc()
    best = 0.0
    for j in range(bow.shape[1]):
        has = np.zeros(len(y), dtype=bool)
        has[bow[:, j].indices] = True
        hits = sum(Counter(y[part].tolist()).most_common(1)[0][1] for part in (has, ~has) if part.any())
        best = max(best, hits / len(y))
    assert best < majority + 0.1, f"one word predicts {name} labels with accuracy {best:.2f}"
    # a simple n-gram model already beats the majority class clearly: the rule is learnable
    vec = CountVectorizer(ngram_range=(1, 3), token_pattern=r"[^ ]+")
    x = vec.fit_transform([_pair_text(task.format(r)) for r in train])
    clf = LogisticRegression(max_iter=1000, C=3.0).fit(x, y)
    acc = float((clf.predict(vec.transform([_pair_text(task.format(r)) for r in val])) == yv).mean())
    assert acc > majority + 0.1, f"{name}: n-gram model {acc:.2f} vs majority {majority:.2f}"
    assert acc < 0.99  # label noise keeps a ceiling below 100%


def test_stsb_scores_follow_content_overlap_not_length(cache_dir):
    from scipy.stats import pearsonr

    task = get_task("stsb", tiny=SIZES, cache_dir=cache_dir)
    rows = task.load("train").to_list()
    y = np.array([r["label"] for r in rows])
    assert 0.0 <= y.min() and y.max() <= 5.0 and y.std() > 0.8
    jac = [len(set(r["sentence1"].split()) & set(r["sentence2"].split())) / len(set(r["sentence1"].split()) | set(r["sentence2"].split())) for r in rows]  # fmt: skip
    length = [abs(len(r["sentence1"]) - len(r["sentence2"])) for r in rows]
    assert pearsonr(jac, y)[0] > 0.5
    assert abs(pearsonr(length, y)[0]) < 0.3


@pytest.mark.parametrize("name", ["e2e", "webnlg", "dart", "wikisql", "samsum"])
def test_copying_the_input_scores_far_below_a_reference(name, cache_dir):
    """BLEU of the input copied as output vs BLEU of one reference against the others (a learnable bound)."""
    import sacrebleu

    task = get_task(name, tiny=SIZES, cache_dir=cache_dir)
    groups = task.eval_groups(task.load("test"))
    if name in (
        "wikisql",
        "samsum",
    ):  # one reference: compare with the other inputs' references of the same shape
        copy = sacrebleu.corpus_bleu(
            [g["text"] for g in groups], [[g["references"][0] for g in groups]]
        ).score
        assert copy < 30, f"{name}: copying the input gets BLEU {copy:.1f}"
        return
    multi = [g for g in groups if len(g["references"]) >= 2]
    hyps = [g["references"][0] for g in multi]
    refs = [[g["references"][i] if i < len(g["references"]) else None for g in multi] for i in range(1, 7)]
    upper = sacrebleu.corpus_bleu(hyps, refs).score
    copy = sacrebleu.corpus_bleu([g["text"] for g in multi], refs).score
    assert copy < 25 and upper > copy + 25, f"{name}: copy {copy:.1f} vs reference {upper:.1f}"
