"""SAMSum ROUGE with Google's ``rouge-score`` (the package HF ``evaluate``'s rouge wraps).

Choices (the paper released no SAMSum scorer):

* ``use_stemmer=True`` (Porter stemmer; evaluate's rouge defaults to False), rouge-score's default
  tokenizer (lower-case, non-alphanumerics become spaces);
* every key is the mean over examples of the F-measure, x100 (the paper's Table 4 prints 53.8/29.8/45.9);
  evaluate's default instead reports a bootstrap-resampled median of the mean;
* ``rougeL`` is the LCS over the whole summary, no sentence split -- the paper's "RL" column;
* ``rougeLsum`` (summary-level LCS) splits summaries into sentences at newlines and after ``.``, ``!``
  or ``?`` followed by whitespace (a regex: nltk's punkt splitter needs data that is not available
  offline), reported for comparison with papers that use it;
* several references for one input: the best F-measure over them (``score_multi``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lora_repro.metrics.common import Scores, clean_groups

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
_SENT_END = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> str:
    """Newline-separated sentences for rougeLsum."""
    parts = [p.strip() for line in text.split("\n") for p in _SENT_END.split(line)]
    return "\n".join(p for p in parts if p)


def score_samsum(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> Scores:
    """rouge1, rouge2, rougeL, rougeLsum F-measures x100, averaged over examples."""
    from rouge_score import rouge_scorer  # noqa: PLC0415

    clean_groups(predictions, references)  # validates counts, types and non-empty groups only
    preds = [split_sentences(p) for p in predictions]  # rougeL ignores the newlines, rougeLsum uses them
    refs = [[split_sentences(r) for r in ([g] if isinstance(g, str) else g)] for g in references]
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for pred, group in zip(preds, refs, strict=True):
        result = scorer.score(group[0], pred) if len(group) == 1 else scorer.score_multi(group, pred)
        for key in ROUGE_TYPES:
            totals[key] += result[key].fmeasure
    return Scores({key: 100.0 * total / len(preds) for key, total in totals.items()})
