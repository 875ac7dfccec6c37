"""What every metric shares: the result type and the checks on predictions and references."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any


class Scores(dict):
    """``dict[str, float]`` of metric name -> value on the paper's scale.

    A metric that could not be computed (e.g. METEOR without Java) is absent from the dict and
    listed in ``.unavailable`` (name -> reason); a ``RuntimeWarning`` names it too. It is never
    replaced by another implementation.
    """

    def __init__(self, *args: Any, **kwargs: float) -> None:
        super().__init__(*args, **kwargs)
        self.unavailable: dict[str, str] = {}

    def mark_unavailable(self, key: str, reason: str) -> None:
        """Record ``key`` as not computable, with the reason, and warn."""
        self.pop(key, None)
        self.unavailable[key] = reason
        warnings.warn(f"{key} unavailable: {reason}", RuntimeWarning, stacklevel=3)

    def merge(self, other: Scores, suffix: str = "") -> None:
        """Copy ``other`` in, appending ``suffix`` to every key (values and unavailable reasons)."""
        for key, value in other.items():
            self[key + suffix] = value
        for key, reason in other.unavailable.items():
            self.pop(key + suffix, None)
            self.unavailable[key + suffix] = reason


def check_counts(
    predictions: Sequence[Any], references: Sequence[Any], what: str = "reference groups"
) -> None:
    """Raise a ValueError naming both counts when they differ (or when there is nothing to score)."""
    if len(predictions) != len(references):
        raise ValueError(
            f"got {len(predictions)} predictions but {len(references)} {what}: "
            "there must be exactly one prediction per input"
        )
    if not predictions:
        raise ValueError("no predictions to score: predictions and references are empty")


def _one_line(text: Any, where: str) -> str:
    if not isinstance(text, str):
        raise ValueError(f"{where} must be a string, got {type(text).__name__}: {text!r}")
    return " ".join(text.split("\n")).strip()


def clean_groups(
    predictions: Sequence[str], references: Sequence[Sequence[str]]
) -> tuple[list[str], list[list[str]]]:
    """Strip each text to one line (as the official scorers read files) and check the grouping.

    ``references`` holds one list of reference strings per prediction; a bare string is taken as a
    group of one. Every group needs at least one reference.
    """
    check_counts(predictions, references)
    hyps = [_one_line(p, f"prediction {i}") for i, p in enumerate(predictions)]
    groups: list[list[str]] = []
    for i, group in enumerate(references):
        if isinstance(group, str):
            group = [group]
        refs = [_one_line(r, f"reference {j} of input {i}") for j, r in enumerate(group)]
        if not refs:
            raise ValueError(f"input {i} has no reference: every input needs at least one reference")
        groups.append(refs)
    return hyps, groups
