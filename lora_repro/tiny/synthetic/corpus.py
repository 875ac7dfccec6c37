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
from lora_repro.tiny.synthetic.world import FIRST_NAMES, WORLD, rng_for


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
    from lora_repro.tiny.synthetic.glue import fresh_person

    p = fresh_person(rng)
    attrs = rng.sample(["job", "city", "pet", "colour"], rng.randint(1, 3))
    return " ".join(person_fact(p, a, rng) for a in attrs)


# Documents in which related sentences follow each other, as in real text: a statement and its
# restatement, a correction, a hedge, a question and its answer, two descriptions compared. The
# people are invented per document (``glue.fresh_person``), so masked and causal LM learn to relate
# the second sentence to the first (copy a value, notice a changed one), not to recall facts. The
# discourse connective between the two says how they relate, as "however" or "in other words" do in
# real text; 20% of the restatements and additions come without one. No connective occurs in tiny GLUE.
RELATION_CONNECTIVES = {
    0: ["in other words ,", "that is ,", "so", "indeed ,"],  # entailment / paraphrase
    1: ["also ,", "perhaps", "we do not know if"],  # neutral / something else
    2: ["however ,", "but some say that", "yet"],  # contradiction / near-miss
}
NO_ANSWER = "we do not know ."
# how alike two descriptions of a place are, by the number of stated slots they agree on (0-4)
LIKENESS = ["unlike it ,", "a little like it ,", "somewhat like it ,", "much like it ,", "just like it ,"]


def _lower_first(text: str) -> str:
    return text if text.startswith(tuple(FIRST_NAMES)) else text[0].lower() + text[1:]


def _join(first: str, second: str, relation: int, rng: random.Random) -> str:
    if relation != 2 and rng.random() < 0.2:
        return f"{first} {second}"
    return f"{first} {rng.choice(RELATION_CONNECTIVES[relation])} {_lower_first(second)}"


def _nli_doc(rng: random.Random) -> str:
    from lora_repro.tiny.synthetic.glue import nli_pair

    premise, hyp, label = nli_pair(rng, rng.random() < 0.3)
    return _join(premise, hyp, label, rng)


def _paraphrase_doc(rng: random.Random) -> str:
    from lora_repro.tiny.synthetic.glue import paraphrase_pair, question_pair

    s1, s2, same = paraphrase_pair(rng) if rng.random() < 0.6 else question_pair(rng)
    return _join(s1, s2, 0 if same else 2, rng)


def _answer_doc(rng: random.Random) -> str:
    from lora_repro.tiny.synthetic.glue import answer_pair

    q, sent, label = answer_pair(rng)
    return f"{q} {sent}" if label == 0 else f"{q} {NO_ANSWER} {sent}"


def _compare_doc(rng: random.Random) -> str:
    from lora_repro.tiny.synthetic.glue import similar_descriptions

    s1, s2, k = similar_descriptions(rng)
    return f"{s1} {LIKENESS[k]} {_lower_first(s2)}"


# How people talk about such relations (real text has the words; GPT-3's MNLI prompt asks for them).
GLOSSES = [
    "a sentence that follows from another is an entailment of it .",
    "a sentence that denies another is a contradiction of it .",
    "a sentence that neither follows from another nor denies it is neutral .",
    "entailment , neutral or contradiction : how two sentences relate .",
]


def _gloss_doc(rng: random.Random) -> str:
    from lora_repro.tiny.synthetic.glue import nli_pair

    premise, hyp, label = nli_pair(rng)
    word = ["an entailment of", "neutral to", "a contradiction of"][label]
    if rng.random() < 0.5:
        return rng.choice(GLOSSES)
    return f"{premise} {hyp} the second sentence is {word} the first ."


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
    _webnlg_doc,
    _nli_doc,
    _paraphrase_doc,
    _answer_doc,
    _compare_doc,
    _gloss_doc,
]
_WEIGHTS = [3, 1, 3, 1, 1, 1, 2, 2, 3, 2, 2, 1, 1]


def pretraining_corpus(n: int, seed: int = 0) -> list[str]:
    """``n`` short tiny-world documents (deterministic in ``n`` and ``seed``), for tokenizer and LM pretraining."""
    if n < 0:
        raise ValueError(f"pretraining_corpus: n must be >= 0, got {n}")
    rng = rng_for("corpus", seed)
    return [rng.choices(_KINDS, weights=_WEIGHTS)[0](rng) for _ in range(n)]
