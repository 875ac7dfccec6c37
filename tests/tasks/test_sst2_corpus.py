"""Tiny SST-2's calibration and the corpus reviews the tiny encoders learn sentiment from."""

from __future__ import annotations

import random

import numpy as np

from lora_repro.tiny.synthetic import corpus, pretraining_corpus
from lora_repro.tiny.synthetic.glue import review_sentence, sst2


def test_tiny_sst2_is_as_hard_for_a_bag_of_words_as_real_sst2():
    """Real SST-2: a unigram model gets ~80%; tiny SST-2 is calibrated (negation, ", but") to match."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    rng = random.Random(11)
    train, val = [sst2(rng) for _ in range(3000)], [sst2(rng) for _ in range(1000)]
    vec = CountVectorizer(token_pattern=r"[^ ]+", binary=True)
    x = vec.fit_transform([r["sentence"] for r in train])
    clf = LogisticRegression(max_iter=2000).fit(x, [r["label"] for r in train])
    pred = clf.predict(vec.transform([r["sentence"] for r in val]))
    acc = float((pred == np.array([r["label"] for r in val])).mean())
    assert 0.72 < acc < 0.88, acc
    # the compositional cases are there: negations and contrasts
    assert sum(" but " in r["sentence"] for r in val) > 80
    assert sum(any(f" {n} " in r["sentence"] for n in ("not", "never", "hardly")) for r in val) > 80


def test_corpus_reviews_carry_the_verdict_of_their_sentence():
    for seed in range(200):
        text, label = review_sentence(random.Random(seed))
        doc = corpus._review_doc(random.Random(seed))
        assert text in doc
        verdicts = [v for pol in (0, 1) for v in corpus.VERDICTS[pol] if v in doc]
        assert len(verdicts) == 1 and verdicts[0] in corpus.VERDICTS[label], (doc, label)
        assert doc.startswith(verdicts[0]) or doc.endswith(verdicts[0])


def test_verdicts_never_occur_in_tiny_sst2_and_the_corpus_has_them():
    rng = random.Random(3)
    sentences = [sst2(rng)["sentence"] for _ in range(2000)]
    phrases = [v for vs in corpus.VERDICTS.values() for v in vs]
    assert not any(v in s for s in sentences for v in phrases)
    docs = pretraining_corpus(3000, 0)
    with_verdict = [d for d in docs if any(v in d for v in phrases)]
    share = corpus._WEIGHTS[corpus._KINDS.index(corpus._review_doc)] / sum(corpus._WEIGHTS)
    assert share - 0.05 < len(with_verdict) / len(docs) < share + 0.05  # reviews: their corpus weight
