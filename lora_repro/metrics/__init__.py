"""Metrics that agree with the official scorers the paper used, computed offline.

``score(metric, predictions, references, **meta) -> dict[str, float]`` is the one entry point
(docs/CONTRACTS.md). Every value is on the scale the paper's tables print (docs/metrics.md):

==================  ==============================================  ==========================================
metric              keys                                            official scorer matched
==================  ==============================================  ==========================================
glue_<task>         accuracy | matthews | pearson, spearman | f1    HF ``glue`` metric (sklearn / scipy), x100
e2e                 BLEU, NIST, METEOR, ROUGE_L, CIDEr              tuetschek/e2e-metrics measure_scores.py -p
webnlg              BLEU, METEOR, TER (+ _A, _S, _U)                GenerationEval as microsoft/LoRA runs it
dart                BLEU, METEOR, TER                               GenerationEval as microsoft/LoRA runs it
samsum              rouge1, rouge2, rougeL, rougeLsum               rouge-score, use_stemmer=True, x100
wikisql             lf_accuracy, ex_accuracy                        salesforce/WikiSQL Query.__eq__ / SQLite
==================  ==============================================  ==========================================

The returned dict is a ``Scores``: a metric that cannot be computed (METEOR without Java) is left
out and named with its reason in ``.unavailable``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from lora_repro.metrics.common import Scores
from lora_repro.metrics.glue import GLUE_TASKS

__all__ = ["METRICS", "Scores", "score", "metric_keys"]


def _glue(task: str) -> Callable[..., Scores]:
    def run(predictions: Sequence[Any], references: Sequence[Any]) -> Scores:
        from lora_repro.metrics.glue import score_glue  # noqa: PLC0415

        return score_glue(task, predictions, references)

    return run


def _e2e(predictions, references) -> Scores:
    from lora_repro.metrics.e2e import score_e2e  # noqa: PLC0415

    return score_e2e(predictions, references)


def _webnlg(predictions, references, seen=None, categories=None, num_refs=6) -> Scores:
    from lora_repro.metrics.geneval import score_webnlg  # noqa: PLC0415

    return score_webnlg(predictions, references, seen=seen, categories=categories, num_refs=num_refs)


def _dart(predictions, references, num_refs=6) -> Scores:
    from lora_repro.metrics.geneval import score_dart  # noqa: PLC0415

    return score_dart(predictions, references, num_refs=num_refs)


def _samsum(predictions, references) -> Scores:
    from lora_repro.metrics.samsum import score_samsum  # noqa: PLC0415

    return score_samsum(predictions, references)


def _wikisql(predictions, references, tables=None) -> Scores:
    from lora_repro.metrics.wikisql import score_wikisql  # noqa: PLC0415

    return score_wikisql(predictions, references, tables=tables)


METRICS: dict[str, Callable[..., Scores]] = {f"glue_{t}": _glue(t) for t in GLUE_TASKS}
METRICS.update(e2e=_e2e, webnlg=_webnlg, dart=_dart, samsum=_samsum, wikisql=_wikisql)

_KEYS: dict[str, tuple[str, ...]] = {f"glue_{t}": keys for t, keys in GLUE_TASKS.items()}
_KEYS.update(
    e2e=("BLEU", "NIST", "METEOR", "ROUGE_L", "CIDEr"),
    webnlg=("BLEU", "METEOR", "TER", "BLEU_S", "BLEU_U", "BLEU_A", "METEOR_S", "METEOR_U", "METEOR_A")
    + ("TER_S", "TER_U", "TER_A"),
    dart=("BLEU", "METEOR", "TER"),
    samsum=("rouge1", "rouge2", "rougeL", "rougeLsum"),
    wikisql=("lf_accuracy", "ex_accuracy"),
)
_META: dict[str, tuple[str, ...]] = {"webnlg": ("seen", "categories", "num_refs"), "dart": ("num_refs",)}
_META["wikisql"] = ("tables",)


def metric_keys(metric: str) -> tuple[str, ...]:
    """The keys ``score(metric, ...)`` can return (webnlg's _S/_U only when seen/categories are given)."""
    _check_metric(metric)
    return _KEYS[metric]


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; allowed: {', '.join(METRICS)}")


def score(metric: str, predictions: Sequence[Any], references: Sequence[Any], **meta: Any) -> Scores:
    """Score ``predictions`` against ``references`` (one group per input for NLG) with ``metric``."""
    _check_metric(metric)
    allowed = _META.get(metric, ())
    extra = sorted(set(meta) - set(allowed))
    if extra:
        raise ValueError(
            f"metric {metric!r} takes no option {extra[0]!r}; allowed: {', '.join(allowed) or 'none'}"
        )
    return METRICS[metric](list(predictions), list(references), **meta)
