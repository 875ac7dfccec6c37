"""Progress bars: tqdm on a terminal, plain flushed lines anywhere else.

Every long command (pretraining, a cell's epochs and test generation, a table's grid) makes its bar
with :func:`progress_bar`. On a terminal that is an ordinary tqdm bar. When the stream is not a
terminal (a cell's log file, CI, ``nohup``, a notebook run by nbclient, a pipe), tqdm would still
write every refresh as a carriage-return overwrite, so a cell log held thousands of ``\\r`` frames on
one line; :class:`LineProgress` writes instead one complete line per update, at most one every
``every`` seconds (``LORA_REPRO_PROGRESS_EVERY``, default 30), always the first and the last, each
ending in a newline and flushed at once, e.g.::

    epoch 1/2:  45%|####5     | 85/188 [00:41<00:50,  2.05it/s, loss=3.12]
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from tqdm import tqdm

EVERY_ENV = "LORA_REPRO_PROGRESS_EVERY"
DEFAULT_EVERY_S = 30.0


def default_every() -> float:
    """Seconds between two progress lines off a terminal (``LORA_REPRO_PROGRESS_EVERY``, default 30)."""
    raw = os.environ.get(EVERY_ENV)
    if raw is None or raw == "":
        return DEFAULT_EVERY_S
    try:
        every = float(raw)
    except ValueError:
        raise ValueError(f"{EVERY_ENV}={raw!r}: expected a number of seconds >= 0") from None
    if not every >= 0:  # also NaN
        raise ValueError(f"{EVERY_ENV}={raw!r}: expected a number of seconds >= 0")
    return every


def is_terminal(stream: Any) -> bool:
    """True when ``stream`` is an interactive terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class LineProgress(tqdm):
    """A tqdm whose display is a whole line per update (rate-limited to one per ``every`` seconds),
    never a carriage-return refresh; the first and the final state are always written."""

    def __init__(self, *args: Any, every: float | None = None, **kwargs: Any) -> None:
        self._every = default_every() if every is None else float(every)
        self._last_line_t: float | None = None
        self._last_text = ""
        kwargs.setdefault("ascii", True)  # log files and CI consoles: no block characters
        super().__init__(*args, **kwargs)

    def _write_line(self) -> None:
        text = str(self).replace("\r", "").strip()
        if not text or text == self._last_text:
            return
        self.fp.write(text + "\n")
        self.fp.flush()
        self._last_text, self._last_line_t = text, time.monotonic()

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        if msg == "":  # tqdm clearing its line: nothing to clear in a log
            return False
        now = time.monotonic()
        if self._last_line_t is not None and now - self._last_line_t < self._every:
            return True
        self._write_line()
        return True

    def close(self) -> None:
        if not getattr(self, "disable", True) and hasattr(self, "last_print_t"):
            self._write_line()  # the final state, whatever the rate limit
        self.leave = False  # tqdm's own close would add a newline or a carriage return
        super().close()


def progress_bar(*args: Any, file: Any = None, every: float | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar on a terminal (``tqdm.auto``), else a :class:`LineProgress`; same arguments as tqdm."""
    stream = sys.stderr if file is None else file
    if is_terminal(stream):
        from tqdm.auto import tqdm as auto_tqdm

        return auto_tqdm(*args, file=file, **kwargs)
    return LineProgress(*args, file=stream, every=every, **kwargs)
