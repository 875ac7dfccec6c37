"""Interleaved timing: every variant runs once per round, in a rotating order, so that all see the same load.

A ratio is computed per round (variant time / reference time in that round) and then averaged, so a
slow minute on a shared machine slows both sides of each ratio.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from lora_repro.bench.report import mean_ci, sync


@dataclass
class Timing:
    """Seconds per call of each variant, one entry per round."""

    times: dict[str, list[float]]

    def ms(self, name: str) -> tuple[float, float]:
        """Mean and 95% CI half-width, in ms."""
        mean, half = mean_ci(self.times[name])
        return mean * 1e3, half * 1e3

    def ratios(self, name: str, ref: str) -> list[float]:
        return [a / b for a, b in zip(self.times[name], self.times[ref], strict=True)]

    def pct_over(self, name: str, ref: str) -> tuple[float, float]:
        """Mean and 95% CI half-width of the per-round % over ``ref``."""
        mean, half = mean_ci([100.0 * (x - 1.0) for x in self.ratios(name, ref)])
        return mean, half

    def ratio(self, name: str, ref: str) -> tuple[float, float]:
        return mean_ci(self.ratios(name, ref))


def interleaved(
    fns: dict[str, Callable[[], object]],
    trials: int,
    warmup: int = 1,
    device: str = "cpu",
    on_round: Callable[[int], None] | None = None,
    desc: str | None = None,
    setup: dict[str, Callable[[], object]] | None = None,
) -> Timing:
    """Time each callable ``trials`` times after ``warmup`` untimed calls each, interleaved.

    ``desc``: show a progress bar of the rounds (warm-up and timed) on stderr under that name
    (``lora_repro.progress``: tqdm on a terminal, whole lines elsewhere); the bar is drawn between
    rounds, never inside a timed call. ``setup``: per variant, a callable run untimed just before each
    of its calls (for example evicting a file from the page cache).
    """
    if trials < 1 or warmup < 0:
        raise ValueError(f"trials={trials!r} warmup={warmup!r}: need trials >= 1 and warmup >= 0")
    names = list(fns)
    bar = None
    if desc is not None:
        from lora_repro.progress import progress_bar

        bar = progress_bar(total=warmup + trials, desc=desc, unit="round", file=sys.stderr)
    for _ in range(warmup):
        for name in names:
            fns[name]()
        if bar is not None:
            bar.set_postfix_str("warm-up", refresh=False)
            bar.update(1)
    sync(device)
    times: dict[str, list[float]] = {n: [] for n in names}
    for t in range(trials):
        order = names[t % len(names) :] + names[: t % len(names)]  # rotate: no variant always goes first
        for name in order:
            if setup and name in setup:
                setup[name]()
            sync(device)
            t0 = time.perf_counter()
            fns[name]()
            sync(device)
            times[name].append(time.perf_counter() - t0)
        if on_round is not None:
            on_round(t)
        if bar is not None:
            bar.set_postfix_str("timed", refresh=False)
            bar.update(1)
    if bar is not None:
        bar.close()
    return Timing(times)
