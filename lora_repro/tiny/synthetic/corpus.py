"""The tiny world's pretraining corpus: short documents the tiny models and the tiny tokenizer learn from."""

from __future__ import annotations

import random

from lora_repro.tiny.synthetic.text import (
    E2E_SLOTS,
    chat,
    person_fact,
    realise_mr,
    restaurant_slots,
)
from lora_repro.tiny.synthetic.world import WORLD, rng_for


def _restaurant_doc(rng: random.Random) -> str:
    r = rng.choice(WORLD.restaurants)
    slots = restaurant_slots(r)
    keep = ["name"] + [s for s in E2E_SLOTS[1:] if rng.random() < 0.5]
    return realise_mr({k: slots[k] for k in keep}, rng)


def _mr_doc(rng: random.Random) -> str:
    slots = restaurant_slots(rng.choice(WORLD.restaurants))
    keep = ["name"] + [s for s in E2E_SLOTS[1:] if rng.random() < 0.5]
    return ", ".join(f"{k}[{slots[k]}]" for k in keep)


# A review in the corpus ends (or, 30% of the time, starts) with the reader's verdict. The tiny
# encoders learn from it what makes a sentence positive or negative, as real pretraining text
# teaches RoBERTa; the corpus carries no labels and the verdicts never occur in tiny SST-2.
VERDICTS = {
    1: ["i loved it .", "i liked it .", "highly recommended .", "worth watching ."],
    0: ["i hated it .", "i disliked it .", "a waste of time .", "skip this one ."],
}


def _review_doc(rng: random.Random) -> str:
    from lora_repro.tiny.synthetic.glue import review_sentence

    text, label = review_sentence(rng)
    verdict = rng.choice(VERDICTS[label])
    return f"{verdict} {text} ." if rng.random() < 0.3 else f"{text} . {verdict}"


def _person_doc(rng: random.Random) -> str:
    p = rng.choice(WORLD.people)
    attrs = rng.sample(["job", "city", "pet", "colour"], rng.randint(1, 3))
    return " ".join(person_fact(p, a, rng) for a in attrs)


def _triple_doc(rng: random.Random) -> str:
    p = rng.choice(WORLD.people)
    subj = p.name.replace(" ", "_")
    triples = [f"{subj} | occupation | {p.job}", f"{subj} | residence | {p.city}", f"{subj} | age | {p.age}"]
    return " && ".join(rng.sample(triples, rng.randint(1, 3)))


def _sql_doc(rng: random.Random) -> str:
    from lora_repro.tiny.synthetic.tables import wikisql_rows

    row = wikisql_rows(1, rng, "train")[0]
    header = " | ".join(row["table"]["header"])
    cells = " ; ".join(" | ".join(r) for r in row["table"]["rows"][:3])
    return f"{header} ; {cells}\n{row['question']} {row['sql']['human_readable']}"


def _question_doc(rng: random.Random) -> str:
    from lora_repro.tiny.synthetic.glue import ATTRS, attr_value, negated_fact, other_value, question_about

    p = rng.choice(WORLD.people)
    a = rng.choice(ATTRS)
    answer = (
        person_fact(p, a, rng)
        if rng.random() < 0.7
        else negated_fact(p, a, other_value(a, attr_value(p, a), rng))
    )
    return f"{question_about(p, a, rng)} {answer}"


def _webnlg_doc(rng: random.Random) -> str:
    from lora_repro.tiny.synthetic.triples import CATEGORIES, realise_triples, webnlg_entry

    strings, tuples = webnlg_entry(rng.choice(sorted(CATEGORIES)), rng)
    if rng.random() < 0.3:
        return " | ".join(" : ".join(t) for t in tuples)
    return realise_triples(tuples, rng)


def _chat_doc(rng: random.Random) -> str:
    lines, summary = chat(rng)
    return "\n".join(lines) + "\n\n" + summary


_KINDS = [
    _restaurant_doc,
    _mr_doc,
    _review_doc,
    _person_doc,
    _triple_doc,
    _sql_doc,
    _chat_doc,
    _question_doc,
    _webnlg_doc,
]
_WEIGHTS = [3, 1, 3, 2, 1, 1, 2, 2, 2]


def pretraining_corpus(n: int, seed: int = 0) -> list[str]:
    """``n`` short tiny-world documents (deterministic in ``n`` and ``seed``), for tokenizer and LM pretraining."""
    if n < 0:
        raise ValueError(f"pretraining_corpus: n must be >= 0, got {n}")
    rng = rng_for("corpus", seed)
    return [rng.choices(_KINDS, weights=_WEIGHTS)[0](rng) for _ in range(n)]
