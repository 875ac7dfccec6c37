"""Whether a row clears its bar, from the medians: PASS, FAIL (naming what failed) or INCOMPLETE.

A bar compares each listed method's median on each listed metric with a threshold: the baseline +
points, the untrained model + points, or a fixed value (``>=``, with 1e-9 of slack for the float
arithmetic of ``baseline + points``). The ceiling check asks that the best value of the row (any
column, any of its metrics) stays below the ceiling, so that methods can still differ. A value that
is missing (a cell not done, a metric not computed) makes the row INCOMPLETE unless something that
is present already fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lora_repro.learnability.spec import Bar, LRow

PASS, FAIL, INCOMPLETE = "PASS", "FAIL", "INCOMPLETE"
SLACK = 1e-9

Values = dict[str, float | None]  # metric -> median (None: missing)


@dataclass
class Verdict:
    """A row's outcome: status, the bar's failed parts, the ceiling check, what is missing."""

    status: str
    failures: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    best: tuple[str, str, float] | None = None  # (column, metric, value) of the best value
    ceiling_ok: bool | None = None  # None: nothing to check

    def text(self) -> str:
        """``PASS``, ``FAIL: ...`` or ``INCOMPLETE: missing ...``."""
        if self.status == PASS:
            return PASS
        if self.status == FAIL:
            return "FAIL: " + "; ".join(self.failures)
        return "INCOMPLETE: missing " + ", ".join(self.missing)


def fmt(value: float) -> str:
    return f"{value:.1f}"


def _threshold(bar: Bar, metric: str, baseline: Values | None, untrained: Values) -> tuple[float | None, str]:
    """The value a method must reach on ``metric``, and how to say it (None when its reference is missing)."""
    if bar.kind == "at_least":
        return bar.amount, f"{bar.amount:g}"
    name, ref = ("baseline", baseline or {}) if bar.kind == "above_baseline" else ("untrained", untrained)
    value = ref.get(metric)
    if value is None:
        return None, name
    return value + bar.amount, f"{name} {fmt(value)} + {bar.amount:g}"


def check_bar(
    bar: Bar, labels: dict[str, str], baseline: Values | None, untrained: Values, methods: dict[str, Values]
) -> tuple[list[str], list[str]]:
    """(failed parts, missing values) of ``bar``."""
    failures: list[str] = []
    missing: list[str] = []
    for metric in bar.metrics:
        need, how = _threshold(bar, metric, baseline, untrained)
        if need is None:
            missing.append(f"{how} {metric}")
            continue
        for method in bar.methods:
            label = labels.get(method, method)
            got = (methods.get(method) or {}).get(metric)
            if got is None:
                missing.append(f"{label} {metric}")
            elif got < need - SLACK:
                failures.append(f"{label} {metric} {fmt(got)} < {how} = {fmt(need)}")
    return failures, missing


def best_value(
    metrics: tuple[str, ...], labels: dict[str, str], baseline: Values | None, untrained: Values,
    methods: dict[str, Values],
) -> tuple[str, str, float] | None:  # fmt: skip
    """(column, metric, value) of the highest value of the row on ``metrics``, None when there is none."""
    columns = [("baseline", baseline or {}), ("untrained", untrained)]
    columns += [(labels.get(m, m), v) for m, v in methods.items()]
    found = [(col, k, v) for col, vals in columns for k in metrics if (v := vals.get(k)) is not None]
    return max(found, key=lambda t: t[2]) if found else None


def judge(
    row: LRow,
    labels: dict[str, str],
    baseline: Values | None,
    untrained: Values,
    methods: dict[str, Values],
    ceiling: float,
) -> Verdict:
    """The verdict of ``row`` from its medians (``methods``: method name -> metric -> median)."""
    failures, missing = check_bar(row.bar, labels, baseline, untrained, methods)
    best = best_value(row.metrics, labels, baseline, untrained, methods)
    ceiling_ok = None if best is None else best[2] < ceiling
    if ceiling_ok is False:
        failures.append(f"ceiling: {best[0]} {best[1]} {fmt(best[2])} ≥ {ceiling:g}")  # type: ignore[index]
    status = FAIL if failures else (INCOMPLETE if missing else PASS)
    return Verdict(status, failures, missing, best, ceiling_ok)
