"""Progress off a terminal: whole lines, rate-limited, first and last always; tqdm on a terminal."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from lora_repro.progress import LineProgress, default_every, progress_bar


def test_off_a_terminal_every_update_is_a_whole_line_without_carriage_returns():
    out = io.StringIO()
    for _ in progress_bar(range(5), desc="epoch 1/2", file=out, every=0, mininterval=0, miniters=1):
        pass
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert text.endswith("\n")
    assert lines[0].startswith("epoch 1/2:") and "0/5" in lines[0]
    assert "5/5" in lines[-1] and "100%" in lines[-1]
    assert [int(line.split("|")[2].split("/")[0]) for line in lines] == [0, 1, 2, 3, 4, 5]


def test_the_rate_limit_keeps_the_first_and_the_last_line():
    out = io.StringIO()
    bar = progress_bar(total=1000, desc="generate test", file=out, every=3600)
    for _ in range(1000):
        bar.update(1)
    bar.set_postfix(loss=1.5)
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert "0/1000" in lines[0] and "1000/1000" in lines[1] and "loss=1.5" in lines[1]


def test_a_disabled_bar_writes_nothing():
    out = io.StringIO()
    for _ in progress_bar(range(3), file=out, every=0, disable=True):
        pass
    assert out.getvalue() == ""


def test_a_terminal_gets_tqdm_and_a_file_gets_lines():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert not isinstance(progress_bar(range(2), file=Tty()), LineProgress)
    assert isinstance(progress_bar(range(2), file=io.StringIO()), LineProgress)


@pytest.mark.parametrize("raw", ["soon", "-1", "nan"])
def test_a_bad_interval_is_one_clear_error(monkeypatch, raw):
    monkeypatch.setenv("LORA_REPRO_PROGRESS_EVERY", raw)
    with pytest.raises(ValueError, match=r"LORA_REPRO_PROGRESS_EVERY=.*expected a number of seconds >= 0"):
        default_every()


def test_a_child_writing_to_a_log_file_leaves_lines(tmp_path):
    log = tmp_path / "cell.log"
    code = (
        "from lora_repro.progress import progress_bar\n"
        "for _ in progress_bar(range(50), desc='epoch 1/1', every=0, mininterval=0, miniters=1): pass\n"
    )
    with log.open("w") as f:
        subprocess.run([sys.executable, "-c", code], stderr=f, check=True)
    text = log.read_text()
    assert "\r" not in text and len(text.splitlines()) == 51 and "50/50" in text.splitlines()[-1]
