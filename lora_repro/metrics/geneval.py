"""WebNLG and DART metrics as microsoft/LoRA's pipeline computes them with WebNLG GenerationEval.

The pipeline (examples/NLG/src/gpt2_decode.py ``--tokenize --lower --ref_num 6``, then
GenerationEval ``eval.py -nr 6 -m bleu,meteor,ter``):

1. every hypothesis and reference is lower-cased and split at non-word characters
   (``' '.join(re.split('(\\W)', s))``, whitespace collapsed); each input keeps its first 6
   references, fewer are padded with its first reference (duplicates change none of the metrics);
2. BLEU = ``multi-bleu-detok.perl`` (mteval-13a tokenisation, case-sensitive, closest reference
   length, shorter on ties, no smoothing) = sacrebleu ``BLEU(tokenize='13a', smooth_method='none')``;
3. the text is re-tokenised with NLTK's Treebank word tokenizer (``word_tokenize``; we call it per
   line, ``preserve_line=True``, since punkt data is not available offline -- on the step-1 text the
   sentence split never changes the tokens);
4. METEOR = METEOR 1.5 ``-l en -norm`` with all references (best per segment), corpus score;
5. TER = mean over segments of the smallest pyter3 TER against each reference (1 for an empty
   reference) -- not sacrebleu's/tercom's corpus TER.

GenerationEval reads files with ``split('\\n')``, so a final newline adds an empty segment (METEOR
then fails with -1 and TER gains a segment scored 1: microsoft/LoRA#138). We score the real
segments only, i.e. what eval.py reports for files without a trailing newline.

Scale (the paper's Tables 13-14): BLEU 0-100, METEOR and TER fractions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from lora_repro.metrics.common import Scores, check_counts, clean_groups
from lora_repro.metrics.java import JavaUnavailable, meteor_score

NUM_REFS = 6
# WebNLG 2017: categories of the training set ("seen"); the test set adds 5 unseen ones.
WEBNLG_SEEN_CATEGORIES = frozenset(
    "Airport Astronaut Building City ComicsCharacter Food Monument SportsTeam University WrittenWork".split()
)
WEBNLG_UNSEEN_CATEGORIES = frozenset("Artist Athlete CelestialBody MeanOfTransportation Politician".split())


def lora_post_process(text: str) -> str:
    """gpt2_decode.py ``post_process(s, tokenize=True, lower=True)``."""
    return " ".join(" ".join(re.split(r"(\W)", text.lower())).split())


def _word_tokenizer():
    try:
        from nltk.tokenize.destructive import NLTKWordTokenizer  # noqa: PLC0415
    except ImportError as err:  # nltk comes with rouge-score
        raise ImportError("WebNLG/DART METEOR and TER need nltk: pip install nltk") from err
    return NLTKWordTokenizer()


def _ter(hyp: str, refs: Sequence[str]) -> float:
    import pyter  # noqa: PLC0415

    best = None
    for ref in refs:
        if len(ref) == 0:
            value = 1.0
        else:
            try:
                value = float(pyter.ter(hyp.split(), ref.split()))
            except Exception:  # noqa: BLE001  (GenerationEval scores any pyter failure as 1)
                value = 1.0
        best = value if best is None else min(best, value)
    return 1.0 if best is None else best


def _corpus(hyps: list[str], groups: list[list[str]]) -> Scores:
    """BLEU, METEOR, TER of already post-processed, truncated groups."""
    from sacrebleu.metrics import BLEU  # noqa: PLC0415

    width = max(len(g) for g in groups)
    streams = [[g[k] if k < len(g) else g[0] for g in groups] for k in range(width)]
    bleu = BLEU(tokenize="13a", lowercase=False, smooth_method="none", force=True)
    out = Scores(BLEU=float(bleu.corpus_score(hyps, streams).score))
    tok = _word_tokenizer()
    hyps_tok = [" ".join(tok.tokenize(h)) for h in hyps]
    refs_tok = [list(dict.fromkeys(" ".join(tok.tokenize(r)) for r in g)) for g in groups]
    try:
        out["METEOR"] = meteor_score(hyps_tok, refs_tok)
    except JavaUnavailable as err:
        out.mark_unavailable("METEOR", str(err))
    out["TER"] = sum(_ter(h, r) for h, r in zip(hyps_tok, refs_tok, strict=True)) / len(hyps_tok)
    return out


def _prepare(predictions: Sequence[str], references: Sequence[Sequence[str]], num_refs: int):
    hyps, groups = clean_groups(predictions, references)
    if num_refs < 1:
        raise ValueError(f"num_refs must be >= 1, got {num_refs}")
    hyps = [lora_post_process(h) for h in hyps]
    groups = [[lora_post_process(r) for r in g[:num_refs]] for g in groups]
    return hyps, groups


def score_dart(
    predictions: Sequence[str], references: Sequence[Sequence[str]], num_refs: int = NUM_REFS
) -> Scores:
    """DART BLEU / METEOR / TER (Table 13 scale)."""
    return _corpus(*_prepare(predictions, references, num_refs))


def _seen_flags(n: int, seen: Sequence[Any] | None, categories: Sequence[str] | None) -> list[bool] | None:
    if seen is None and categories is None:
        return None
    if seen is None:
        check_counts(range(n), categories, "categories")
        unknown = sorted(set(categories) - WEBNLG_SEEN_CATEGORIES - WEBNLG_UNSEEN_CATEGORIES)
        if unknown:
            seen_names, unseen_names = sorted(WEBNLG_SEEN_CATEGORIES), sorted(WEBNLG_UNSEEN_CATEGORIES)
            raise ValueError(
                f"category {unknown[0]!r} is not a WebNLG 2017 category (seen: {', '.join(seen_names)}; "
                f"unseen: {', '.join(unseen_names)}): pass seen=[...] instead"
            )
        return [c in WEBNLG_SEEN_CATEGORIES for c in categories]
    check_counts(range(n), seen, "seen flags")
    flags = [s.item() if hasattr(s, "item") else s for s in seen]  # numpy / torch booleans
    bad = [s for s in flags if not isinstance(s, bool | int) or s not in (0, 1)]
    if bad:
        raise ValueError(f"seen must hold booleans, got {bad[0]!r}")
    return [bool(s) for s in flags]


def score_webnlg(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    seen: Sequence[bool] | None = None,
    categories: Sequence[str] | None = None,
    num_refs: int = NUM_REFS,
) -> Scores:
    """WebNLG BLEU / METEOR / TER for all (plain keys and ``_A``), seen (``_S``), unseen (``_U``) inputs.

    ``seen`` flags each input; without it, ``categories`` are mapped to seen/unseen with the
    WebNLG 2017 training categories. S/U keys are absent when neither is given or a subset is empty.
    """
    hyps, groups = _prepare(predictions, references, num_refs)
    flags = _seen_flags(len(hyps), seen, categories)
    everything = _corpus(hyps, groups)
    out = Scores()
    out.merge(everything)
    out.merge(everything, "_A")
    if flags is None:
        return out
    for suffix, want in (("_S", True), ("_U", False)):
        idx = [i for i, f in enumerate(flags) if f == want]
        if idx:
            out.merge(_corpus([hyps[i] for i in idx], [groups[i] for i in idx]), suffix)
    return out
