"""Corpus BLEU and NIST as tuetschek/e2e-metrics ``metrics/pymteval.py`` computes them.

``measure_scores.py -p`` (the command microsoft/LoRA's README runs for E2E) scores with pymteval:
mteval-v13a tokenisation, case-insensitive n-grams, multiple references per segment. Two details
matter and are reproduced here:

* BLEU uses the reference closest in length to the output (the shorter one on ties), clips n-gram
  counts by the maximum count in any single reference, and floors zero precisions at 1e-15 (so a
  corpus with no 4-gram hit gets a tiny, not an undefined, BLEU). An empty output tokenises to one
  empty token, as in pymteval.
* NIST takes n-gram information weights from the references of the whole test set, the length
  penalty from the *average* reference length per segment. ``nltk``'s ``corpus_nist`` differs as
  soon as a segment has more than one reference (METRICS.md: 6.22 vs 7.79 on the E2E example).

Written from the algorithm's description; equality with the official script is checked in
tests/metrics/test_fixtures_official.py.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence

_SGML = [
    ("<skipped>", ""),
    ("-\n", ""),
    ("\n", " "),
    ("&quot;", '"'),
    ("&amp;", "&"),
    ("&lt;", "<"),
    ("&gt;", ">"),
]
_PUNCT = re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])")
_PERIOD_AFTER = re.compile(r"([^0-9])([\.,])")
_PERIOD_BEFORE = re.compile(r"([\.,])([^0-9])")
_DASH = re.compile(r"([0-9])(-)")
_SPACES = re.compile(r"\s+")


def mteval_tokenize(sent: str) -> list[str]:
    """mteval-v13a ("international" off) tokenisation, as pymteval's ``NGramScore.tokenize``."""
    for old, new in _SGML:
        sent = sent.replace(old, new)
    sent = f" {sent} "
    sent = _PUNCT.sub(r" \1 ", sent)
    sent = _PERIOD_AFTER.sub(r"\1 \2 ", sent)
    sent = _PERIOD_BEFORE.sub(r" \1 \2", sent)
    sent = _DASH.sub(r"\1 \2 ", sent)
    sent = _SPACES.sub(" ", sent).strip()
    return sent.split(" ")


def _ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    low = [t.lower() for t in tokens]
    return [tuple(low[i : i + n]) for i in range(len(low) - n + 1)]


def _max_ref_counts(refs: Sequence[Sequence[str]], n: int) -> dict[tuple[str, ...], int]:
    merged: dict[tuple[str, ...], int] = {}
    for ref in refs:
        for gram, cnt in Counter(_ngrams(ref, n)).items():
            merged[gram] = max(merged.get(gram, 0), cnt)
    return merged


def _clipped_hits(hyp: Sequence[str], refs: Sequence[Sequence[str]], n: int) -> dict[tuple[str, ...], int]:
    ref_counts = _max_ref_counts(refs, n)
    hits = {}
    for gram, cnt in Counter(_ngrams(hyp, n)).items():
        hit = min(cnt, ref_counts.get(gram, 0))
        if hit:
            hits[gram] = hit
    return hits


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]], max_n: int = 4) -> float:
    """pymteval ``BLEUScore`` (case-insensitive, no smoothing beyond the 1e-15 floor) as a fraction."""
    hits, lens, ref_len = [0] * max_n, [0] * max_n, 0
    for hyp_s, refs_s in zip(hypotheses, references, strict=True):
        hyp = mteval_tokenize(hyp_s)
        refs = [mteval_tokenize(r) for r in refs_s]
        for i in range(max_n):
            hits[i] += sum(_clipped_hits(hyp, refs, i + 1).values())
            lens[i] += len(hyp) - i
        ref_len += len(min(refs, key=lambda r: (abs(len(r) - len(hyp)), len(r))))
    bp = 1.0
    if lens[0] <= ref_len:
        bp = math.exp(1.0 - ref_len / (float(lens[0]) if lens[0] else 1e-5))
    log_sum = sum(math.log(max(h, 1e-15) / max(n, 1e-9)) for h, n in zip(hits, lens, strict=True))
    return bp * math.exp(log_sum / max_n)


_NIST_BETA = -math.log(0.5) / math.log(1.5) ** 2


def corpus_nist(hypotheses: Sequence[str], references: Sequence[Sequence[str]], max_n: int = 5) -> float:
    """pymteval ``NISTScore``: information-weighted n-gram hits over the corpus, NIST length penalty."""
    ref_counts: list[dict[tuple[str, ...], int]] = [defaultdict(int) for _ in range(max_n + 1)]
    seg_hits: list[list[dict[tuple[str, ...], int]]] = [[] for _ in range(max_n)]
    cand_lens = [0] * max_n
    avg_ref_len = 0.0
    for hyp_s, refs_s in zip(hypotheses, references, strict=True):
        hyp = mteval_tokenize(hyp_s)
        refs = [mteval_tokenize(r) for r in refs_s]
        for n in range(1, max_n + 1):
            cand_lens[n - 1] += len(hyp) - (n - 1)
            seg_hits[n - 1].append(_clipped_hits(hyp, refs, n))
            for ref in refs:
                for gram in _ngrams(ref, n):
                    ref_counts[n][gram] += 1
        total = sum(len(r) for r in refs)
        ref_counts[0][()] += total
        avg_ref_len += total / float(len(refs))

    def info(gram: tuple[str, ...]) -> float:
        if gram not in ref_counts[len(gram)]:
            return 0.0
        return math.log(ref_counts[len(gram) - 1][gram[:-1]] / float(ref_counts[len(gram)][gram]), 2)

    nist_sum = 0.0
    for n in range(max_n):
        hit_info = sum(info(g) * h for hits in seg_hits[n] for g, h in hits.items())
        nist_sum += hit_info / cand_lens[n] if cand_lens[n] else 0.0
    ratio = cand_lens[0] / avg_ref_len if avg_ref_len else 0.0
    if ratio >= 1:
        penalty = 1.0
    elif ratio <= 0:
        penalty = 0.0
    else:
        penalty = math.exp(-_NIST_BETA * math.log(ratio) ** 2)
    return penalty * nist_sum
