"""E2E NLG Challenge metrics as ``measure_scores.py -p`` of tuetschek/e2e-metrics computes them.

* BLEU, NIST: pymteval (``mteval.py``), on the raw, stripped lines.
* METEOR, ROUGE_L, CIDEr: the MS-COCO caption scorers (pycocoevalcap: METEOR 1.5 jar, Rouge with
  beta 1.2, Cider = CIDEr-D with IDF from this test set's references) on Stanford PTB-tokenised,
  lower-cased text with punctuation removed.

Scale (the paper's Table 3): BLEU x100, NIST as is, METEOR x100, ROUGE_L x100, CIDEr as is.
(Table 18 prints METEOR and ROUGE_L as fractions: divide by 100 there.)
"""

from __future__ import annotations

from collections.abc import Sequence

from lora_repro.metrics.common import Scores, clean_groups
from lora_repro.metrics.java import JavaUnavailable, meteor_score, ptb_tokenize
from lora_repro.metrics.mteval import corpus_bleu, corpus_nist

E2E_KEYS = ("BLEU", "NIST", "METEOR", "ROUGE_L", "CIDEr")


def coco_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """METEOR, ROUGE_L, CIDEr (fractions / raw) as coco-caption computes them; raises JavaUnavailable."""
    from pycocoevalcap.cider.cider import Cider  # noqa: PLC0415
    from pycocoevalcap.rouge.rouge import Rouge  # noqa: PLC0415

    flat = [r for refs in references for r in refs] + list(hypotheses)
    tokens = ptb_tokenize(flat)
    gts, pos = {}, 0
    for i, refs in enumerate(references):
        gts[i] = tokens[pos : pos + len(refs)]
        pos += len(refs)
    res = {i: [tokens[pos + i]] for i in range(len(hypotheses))}
    rouge, _ = Rouge().compute_score(gts, res)
    cider, _ = Cider().compute_score(gts, res)
    meteor = meteor_score([res[i][0] for i in range(len(res))], [gts[i] for i in range(len(gts))])
    return {"METEOR": meteor, "ROUGE_L": float(rouge), "CIDEr": float(cider)}


def score_e2e(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> Scores:
    """E2E metrics on the paper's Table 3 scale; METEOR/ROUGE_L/CIDEr unavailable without Java."""
    hyps, refs = clean_groups(predictions, references)
    out = Scores(BLEU=100.0 * corpus_bleu(hyps, refs), NIST=corpus_nist(hyps, refs))
    try:
        coco = coco_scores(hyps, refs)
    except JavaUnavailable as err:
        for key in ("METEOR", "ROUGE_L", "CIDEr"):
            out.mark_unavailable(key, f"{err} (E2E {key} runs on Stanford PTB tokens)")
        return out
    out.update(METEOR=100.0 * coco["METEOR"], ROUGE_L=100.0 * coco["ROUGE_L"], CIDEr=coco["CIDEr"])
    return out
