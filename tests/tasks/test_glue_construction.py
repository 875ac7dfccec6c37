"""Tiny GLUE's labels follow from how each pair was built, checked by an independent reader.

The reader below knows only the world's word lists: a value word names its attribute (jobs, cities,
animals and colours are disjoint lists), a person is "<first> <last>", "not" denies. It re-derives
every label from the two texts and must agree with the generator's (noise-free) label.
"""

from __future__ import annotations

import random
import re

import pytest

from lora_repro.tiny.synthetic import glue
from lora_repro.tiny.synthetic.world import ANIMALS, CITIES, COLOURS, FIRST_NAMES, JOBS, LAST_NAMES

VALUE_ATTR = {**{v: "job" for v in JOBS}, **{v: "city" for v in CITIES}, **{v: "pet" for v in ANIMALS},
              **{v: "colour" for v in COLOURS}}  # fmt: skip
NAME = re.compile(rf"\b(?:{'|'.join(FIRST_NAMES)}) (?:{'|'.join(LAST_NAMES)})\b")
N = 3000


def words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z']+", text)


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.?!])\s+", text.strip()) if s]


# what a generic (value-free) sentence is about: "X has a pet.", "X has no home."
GENERIC_ATTR = {"job": "job", "town": "city", "home": "city", "pet": "pet", "colour": "colour"}


def read_fact(sentence: str) -> tuple[str, str, str | None, bool]:
    """(person, attribute, value, denied) of a one-fact sentence; value None for a generic one
    ("X has a pet.", "X has no job."), whose attribute is read from its noun."""
    names = NAME.findall(sentence)
    values = [w for w in words(sentence) if w in VALUE_ATTR]
    denied = bool({"not", "no"} & set(words(sentence)))
    assert len(names) == 1 and len(values) <= 1, sentence
    if values:
        return names[0], VALUE_ATTR[values[0]], values[0], denied
    nouns = [GENERIC_ATTR[w] for w in words(sentence) if w in GENERIC_ATTR]
    assert len(nouns) == 1, sentence
    return names[0], nouns[0], None, denied


def read_premise(text: str) -> tuple[str, dict[str, str]]:
    """The person and {attribute: value} a premise states (plain sentences or the mismatched style)."""
    names = set(NAME.findall(text))
    assert len(names) == 1, text
    values = [w for w in words(text) if w in VALUE_ATTR]
    stated = {VALUE_ATTR[v]: v for v in values}
    assert len(stated) == len(values), text
    return names.pop(), stated


def nli_label(premise: str, hyp: str) -> int:
    person, stated = read_premise(premise)
    who, attr, value, denied = read_fact(hyp)
    if who != person or attr not in stated:
        return glue.NEUTRAL
    holds = value is None or stated[attr] == value  # a generic sentence holds when the attribute is stated
    return glue.ENTAILMENT if holds != denied else glue.CONTRADICTION


@pytest.mark.parametrize("mismatched", [False, True])
def test_nli_label_follows_from_premise_and_hypothesis(mismatched):
    rng = random.Random(5)
    labels = []
    for _ in range(N):
        premise, hyp, label = glue.nli_pair(rng, mismatched)
        assert nli_label(premise, hyp) == label, (premise, hyp, label)
        labels.append(label)
    assert all(0.3 < labels.count(k) / N < 0.367 for k in range(3))  # balanced


def test_nli_uses_negation_namesakes_and_generic_hypotheses_in_every_class():
    """Each relation occurs with and without a denial and with value-level and generic hypotheses,
    and neutral includes a namesake (shares a name): no one kind of hypothesis gives a label away."""
    rng = random.Random(6)
    seen = set()
    for _ in range(N):
        premise, hyp, label = glue.nli_pair(rng)
        person, _ = read_premise(premise)
        who, _, value, denied = read_fact(hyp)
        namesake = who != person and (
            who.split()[0] == person.split()[0] or who.split()[1] == person.split()[1]
        )
        seen.add((label, denied, namesake, value is None))
    for label in (glue.ENTAILMENT, glue.CONTRADICTION):
        assert (label, True, False, False) in seen and (label, False, False, False) in seen
    assert (glue.ENTAILMENT, False, False, True) in seen and (glue.CONTRADICTION, True, False, True) in seen
    assert (glue.NEUTRAL, False, True, False) in seen and (glue.NEUTRAL, True, False, False) in seen
    assert (glue.NEUTRAL, False, False, True) in seen and (glue.NEUTRAL, True, False, True) in seen


def test_people_are_invented_per_example():
    """No fixed world of facts: the same name comes with different jobs across examples."""
    rng = random.Random(7)
    jobs: dict[str, set[str]] = {}
    for _ in range(N):
        p = glue.fresh_person(rng)
        jobs.setdefault(p.name, set()).add(p.job)
    assert sum(len(v) > 1 for v in jobs.values()) > 0.5 * len(jobs)


def test_paraphrase_iff_same_person_and_same_values():
    rng = random.Random(8)
    for _ in range(N):
        s1, s2, label = glue.paraphrase_pair(rng)
        p1, v1 = read_premise(s1)
        p2, v2 = read_premise(s2)
        assert label == int(p1 == p2 and v1 == v2), (s1, s2, label)
        # near-misses share most words: the same attributes, and a name or all values in common
        assert set(v1) == set(v2)
        assert p1 == p2 or set(p1.split()) & set(p2.split())


QUESTION_ATTR = [("pet", ("pet", "animal")), ("colour", ("colour",)), ("job", ("living", "job", "profession")),
                 ("city", ("live", "city", "town"))]  # fmt: skip


def asked(question: str) -> tuple[str, str]:
    names = NAME.findall(question)
    assert len(names) == 1, question
    for attr, keys in QUESTION_ATTR:
        if any(k in words(question.lower()) for k in keys):
            return names[0], attr
    raise AssertionError(question)


def test_duplicate_questions_iff_same_person_and_attribute():
    rng = random.Random(9)
    for _ in range(N):
        q1, q2, label = glue.question_pair(rng)
        assert label == int(asked(q1) == asked(q2)), (q1, q2, label)


def test_qnli_sentence_answers_iff_same_person_and_asked_attribute():
    rng = random.Random(10)
    for _ in range(N):
        q, sent, label = glue.answer_pair(rng)
        who, attr, _, denied = read_fact(sent)
        assert not denied
        assert label == (0 if (who, attr) == asked(q) else 1), (q, sent, label)


def test_sts_score_counts_the_values_both_descriptions_keep():
    """k slots keep their value: a description's value words reappear in the other one exactly k
    times more than for an unrelated pair; k=0 shares only the name and phrasing."""
    from lora_repro.tiny.synthetic.text import restaurant_slots
    from lora_repro.tiny.synthetic.world import WORLD

    values = {v.lower() for r in WORLD.restaurants for k, v in restaurant_slots(r).items() if k not in ("name", "near", "familyFriendly")}  # fmt: skip
    rng = random.Random(11)
    by_k: dict[int, list[int]] = {}
    for _ in range(N):
        s1, s2, k = glue.similar_descriptions(rng)
        assert 0 <= k <= glue.STS_SLOTS
        shared = sum(v in s1.lower() and v in s2.lower() for v in values)
        by_k.setdefault(k, []).append(shared)
    means = [sum(x) / len(x) for _, x in sorted(by_k.items())]
    assert sorted(by_k) == list(range(glue.STS_SLOTS + 1))
    assert all(b > a + 0.4 for a, b in zip(means, means[1:], strict=False)), means


def _place(sentence: str) -> str | None:
    """The place a restaurant description is about: the world restaurant named first (a later one is
    the "near" slot); None when it names none (a person's facts)."""
    from lora_repro.tiny.synthetic.world import WORLD

    hits = [(sentence.find(r.name), -len(r.name), r.name) for r in WORLD.restaurants if r.name in sentence]
    return min(hits)[2] if hits else None


def test_stsb_score_follows_the_tier_the_reader_finds():
    """0 for a person's facts beside a place, 1 for two different places, 2-5 for the same place with
    more of its values shared; the six anchors about equally frequent, as the real scores spread."""
    from scipy.stats import pearsonr

    from lora_repro.tiny.synthetic.text import restaurant_slots
    from lora_repro.tiny.synthetic.world import WORLD

    values = {v.lower() for r in WORLD.restaurants for k, v in restaurant_slots(r).items() if k not in ("name", "near", "familyFriendly")}  # fmt: skip
    rng = random.Random(12)
    tiers: dict[str, list[float]] = {"other_topic": [], "other_place": [], "same_place": []}
    same: list[tuple[int, float]] = []
    for _ in range(N):
        row = glue.stsb(rng)
        s1, s2, score = row["sentence1"], row["sentence2"], row["label"]
        first, second = _place(s1), _place(s2)
        assert first is not None and 0.0 <= score <= 5.0
        if second is None:
            assert NAME.search(s2), s2
            tiers["other_topic"].append(score)
        elif second != first:
            tiers["other_place"].append(score)
        else:
            tiers["same_place"].append(score)
            same.append((sum(v in s1.lower() and v in s2.lower() for v in values), score))
    assert max(tiers["other_topic"]) < 1.5 and all(abs(x - 1.0) < 1.5 for x in tiers["other_place"])
    assert min(tiers["same_place"]) > 0.5
    mean = {k: sum(v) / len(v) for k, v in tiers.items()}
    assert mean["other_topic"] < 0.4 < 0.7 < mean["other_place"] < 1.3 < 2.5 < mean["same_place"], mean
    shares = {k: len(v) / N for k, v in tiers.items()}
    assert abs(shares["other_topic"] - 1 / 6) < 0.03 and abs(shares["other_place"] - 1 / 6) < 0.03, shares
    # within the same place, more shared values means a higher score
    assert pearsonr([a for a, _ in same], [b for _, b in same])[0] > 0.6


PERSON_FACT = re.compile(
    rf"^{NAME.pattern} (?:works as a|is a|has a job as a|lives in|is based in|has a home in|"
    r"owns a|has a pet|keeps a|likes the colour) [a-zA-Z]+(?: at home)?\.$|"
    rf"^The favourite colour of {NAME.pattern} is [a-z]+\.$"
)


def test_cola_person_sentences_parse_iff_acceptable():
    rng = random.Random(13)
    checked = 0
    for _ in range(N):
        s = glue.grammatical_sentence(rng)
        if not NAME.search(s) or "serve" in s or "restaurant" in s:
            continue
        if NAME.match(s) is None and not s.startswith("The favourite"):
            continue
        checked += 1
        assert PERSON_FACT.match(s), s
        bad = glue.corrupt(s, rng)
        assert bad != s and not PERSON_FACT.match(bad), (s, bad)
    assert checked > 500


def test_cola_corruption_always_changes_the_sentence():
    rng = random.Random(14)
    for _ in range(N):
        s = glue.grammatical_sentence(rng)
        assert glue.corrupt(s, rng) != s
