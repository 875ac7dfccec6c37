"""``task.text_format``: the hub rows' own text, or the text of the reference implementation's data files.

microsoft/LoRA (examples/NLG) trains and scores E2E, WebNLG and DART on its own formatted files. For
E2E those files hold tokenised text (``... called Blue Spice .``, ``£ 20 - 25``, ``is n't``); for
WebNLG and DART they hold the raw JSON text, one line per (context, completion) pair, and the
reference scorer groups references by identical context. ``reference`` reproduces that text from the
hub rows; ``hub`` is the hub text as it is. docs/text-format.md has the details and the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

TEXT_FORMATS = ("hub", "reference")
# ``task.text_format: null`` resolves per profile: the paper profile reproduces the paper's numbers,
# which microsoft/LoRA produced on its formatted files; the tiny generators' world was built and its
# bars calibrated on the hub text.
PROFILE_DEFAULT = {"tiny": "hub", "paper": "reference"}

_LETTER = r"[^\W\d_]"


def resolve_text_format(task: str, value: Any, profile: str) -> str:
    """``task.text_format`` -> ``hub`` or ``reference`` (None: the profile's default); else one line."""
    if value is None:
        return PROFILE_DEFAULT.get(profile, "hub")
    if value not in TEXT_FORMATS:
        raise ValueError(
            f"task {task}: task.text_format={value!r} is not allowed; allowed: {list(TEXT_FORMATS)} "
            f"(or null: {PROFILE_DEFAULT})"
        )
    return str(value)


def tokenise_e2e(text: str) -> str:
    """E2E text as the reference files (microsoft/LoRA examples/NLG/data/e2e) write it.

    Spaces are inserted, never characters changed: commas (not between digits), runs of ``; : ? ! "``
    and a word-final run of periods become tokens; ``£``/``$`` split from a word they start; hyphens
    between letters or between digits become `` - ``; a quote opening or closing a word splits off;
    ``n't`` and ``'s 're 'll 've 'm 'd`` split from their word; ``thats`` -> ``that s``. Whitespace runs
    become one space. Reproduces every line of the reference test file from the raw test CSV.
    """
    t = " " + " ".join(text.split()) + " "
    t = re.sub(r"(?<!\d),|,(?!\d)", " , ", t)
    t = re.sub(r"([;:?!\"]+)", r" \1 ", t)
    t = re.sub(r"(?<=[^\s.])(\.+)(?=[\s'\"])", r" \1", t)
    t = re.sub(r"(?<=\s)([£$])(?=\S)", r"\1 ", t)
    t = re.sub(rf"(?<={_LETTER})-(?={_LETTER})", " - ", t)
    t = re.sub(r"(?<=\d)-(?=\d)", " - ", t)
    t = re.sub(r"(?<=\s)'(?=\S)", "' ", t)
    t = re.sub(r"(?<=\S)'(?=\s)", " '", t)
    t = re.sub(rf"(?<={_LETTER})n't(?=\s)", " n't", t)
    t = re.sub(rf"(?<={_LETTER})'(s|re|ll|ve|m|d)(?=\s)", r" '\1", t, flags=re.IGNORECASE)
    t = re.sub(r"(?<=\s)([Tt])hats(?=\s)", r"\1hat s", t)
    return " ".join(t.split())


def reference_examples(ex: dict, raw_texts: list[str]) -> list[dict]:
    """Training examples of one row as the reference files hold them: one per kept text, unstripped."""
    return [{**ex, "target": " " + t} for t in raw_texts]


def group_by_context(
    rows: Iterable[dict], format_row: Callable[[dict], dict], meta_of: Callable[[dict], dict]
) -> list[dict]:
    """Reference groups as microsoft/LoRA's gpt2_decode.py builds them: one per distinct context (first-seen
    order), all references of the rows with that context; rows without a reference have no line there."""
    groups: dict[str, dict] = {}
    for row in rows:
        ex = format_row(row)
        if not ex["references"]:
            continue
        if ex["text"] not in groups:
            groups[ex["text"]] = {"text": ex["text"], "references": [], "meta": meta_of(row)}
        groups[ex["text"]]["references"] += ex["references"]
    return list(groups.values())
