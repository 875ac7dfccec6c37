"""Sentence templates of the tiny world, shared by the dataset generators and the pretraining corpus."""

from __future__ import annotations

import random

from lora_repro.tiny.synthetic.world import ACTIVITIES, DAYS, HOURS, WORLD, Person, Restaurant

# E2E slot order as in the real meaning representations.
E2E_SLOTS = ["name", "eatType", "food", "priceRange", "customer rating", "area", "familyFriendly", "near"]


def restaurant_slots(r: Restaurant) -> dict[str, str]:
    return {
        "name": r.name,
        "eatType": r.eat_type,
        "food": r.food,
        "priceRange": r.price,
        "customer rating": r.rating,
        "area": r.area,
        "familyFriendly": r.family,
        "near": r.near,
    }


def _price_phrase(v: str, rng: random.Random) -> str:
    if v in ("cheap", "moderate", "high"):
        word = {"cheap": "cheap", "moderate": "moderately priced", "high": "expensive"}[v]
        return rng.choice([f"is {word}", f"has {v} prices" if v != "high" else "has high prices"])
    return rng.choice([f"has prices {v}", f"costs {v}"])


def _rating_phrase(v: str, rng: random.Random) -> str:
    if "out of" in v:
        return rng.choice([f"is rated {v}", f"has a customer rating of {v}"])
    return rng.choice([f"has a {v} customer rating", f"is rated {v} by customers"])


def _clause(slot: str, v: str, rng: random.Random) -> str:
    if slot == "eatType":
        return rng.choice([f"is a {v}", f"is a {v}"])
    if slot == "food":
        if v == "Fast food":
            return rng.choice(["serves fast food", "offers fast food", "provides fast food"])
        return rng.choice([f"serves {v} food", f"offers {v} food", f"provides {v} dishes"])
    if slot == "priceRange":
        return _price_phrase(v, rng)
    if slot == "customer rating":
        return _rating_phrase(v, rng)
    if slot == "area":
        return rng.choice([f"is in the {v}", f"is located in the {v}", f"can be found in the {v}"])
    if slot == "familyFriendly":
        yes = v == "yes"
        return rng.choice(
            [
                "is family friendly" if yes else "is not family friendly",
                "welcomes children" if yes else "does not allow children",
            ]
        )
    if slot == "near":
        return rng.choice([f"is near {v}", f"is close to {v}", f"is situated near {v}"])
    raise ValueError(f"unknown E2E slot {slot!r}; allowed: {E2E_SLOTS}")


def realise_mr(slots: dict[str, str], rng: random.Random) -> str:
    """One fluent English reference for an E2E meaning representation (several styles)."""
    name = slots["name"]
    rest = [s for s in E2E_SLOTS if s in slots and s != "name"]
    clauses = [_clause(s, slots[s], rng) for s in rest]
    if not clauses:
        return f"There is a place called {name}."
    style = rng.random()
    if style < 0.4:
        if len(clauses) == 1:
            return f"{name} {clauses[0]}."
        return f"{name} {', '.join(clauses[:-1])} and {clauses[-1]}."
    if style < 0.7 and len(clauses) >= 2:
        k = (len(clauses) + 1) // 2
        first = f"{name} {', '.join(clauses[: k - 1]) + ' and ' if k > 1 else ''}{clauses[k - 1]}."
        second_parts = clauses[k:]
        subj = rng.choice(["It", "The place", "This venue"])
        if len(second_parts) == 1:
            return f"{first} {subj} {second_parts[0]}."
        return f"{first} {subj} {', '.join(second_parts[:-1])} and {second_parts[-1]}."
    kind = slots.get("eatType", "place")
    others = [_clause(s, slots[s], rng) for s in rest if s != "eatType"]
    if not others:
        return f"{name} is a {kind}."
    if len(others) == 1:
        return f"There is a {kind} called {name} that {others[0]}."
    return f"There is a {kind} called {name} that {', '.join(others[:-1])} and {others[-1]}."


POS_WORDS = ["good", "great", "charming", "moving", "funny", "brilliant", "wonderful", "clever", "fresh", "beautiful",
             "touching", "delightful", "smart", "solid", "lovely", "gripping"]  # fmt: skip
NEG_WORDS = ["bad", "dull", "boring", "awful", "tedious", "clumsy", "weak", "silly", "bland", "stale", "messy",
             "forgettable", "painful", "lame", "flat", "tiresome"]  # fmt: skip
REVIEW_NOUNS = ["film", "movie", "story", "plot", "script", "cast", "ending", "director", "soundtrack", "dialogue",
                "performance", "comedy", "drama", "picture"]  # fmt: skip
INTENS = ["", "", "very ", "really ", "quite ", "rather ", "truly "]
NEGATORS = ["not", "never", "hardly"]


def review_clause(rng: random.Random, neg_rate: float = 0.35) -> tuple[str, int]:
    """An SST-style clause and its polarity (1 positive, 0 negative); negation (with probability
    ``neg_rate``) flips the polarity."""
    noun = rng.choice(REVIEW_NOUNS)
    pol = rng.randint(0, 1)
    adj = rng.choice(POS_WORDS if pol else NEG_WORDS)
    neg = rng.random() < neg_rate
    verb = rng.choice(["is", "feels", "seems"])
    if neg:
        neg_word = rng.choice(NEGATORS)
        if verb == "is" or neg_word == "not":
            return f"the {noun} {verb} {neg_word} {rng.choice(INTENS)}{adj}", 1 - pol
        return f"the {noun} {neg_word} {verb} {rng.choice(INTENS)}{adj}", 1 - pol
    return f"the {noun} {verb} {rng.choice(INTENS)}{adj}", pol


def person_fact(p: Person, attr: str, rng: random.Random, value: str | None = None) -> str:
    """A sentence stating one attribute of a person (``value`` overrides the true value)."""
    v = value if value is not None else {"job": p.job, "city": p.city, "pet": p.pet, "colour": p.colour}[attr]
    if attr == "job":
        return rng.choice(
            [f"{p.name} works as a {v}.", f"{p.name} is a {v}.", f"{p.name} has a job as a {v}."]
        )
    if attr == "city":
        return rng.choice(
            [f"{p.name} lives in {v}.", f"{p.name} is based in {v}.", f"{p.name} has a home in {v}."]
        )
    if attr == "pet":
        return rng.choice(
            [f"{p.name} owns a {v}.", f"{p.name} has a pet {v}.", f"{p.name} keeps a {v} at home."]
        )
    if attr == "colour":
        return rng.choice([f"{p.name} likes the colour {v}.", f"The favourite colour of {p.name} is {v}."])
    raise ValueError(f"unknown person attribute {attr!r}")


def chat(rng: random.Random) -> tuple[list[str], str]:
    """A short SAMSum-style chat (utterances "Name: text") and its one-sentence summary."""
    a, b = rng.sample(WORLD.people, 2)
    a1, b1 = a.name.split()[0], b.name.split()[0]
    place = rng.choice(WORLD.restaurants).name
    act, day, hour = rng.choice(ACTIVITIES), rng.choice(DAYS), rng.choice(HOURS)
    kind = rng.randint(0, 3)
    lines = [f"{a1}: {rng.choice(['Hi', 'Hey', 'Hello'])} {b1}!"]
    if kind == 0:  # plan accepted
        lines += [f"{a1}: Do you want to go to {act} on {day}?", f"{b1}: Sure! Where?",
                  f"{a1}: {place}, at {hour}.", f"{b1}: {rng.choice(['Great', 'Perfect', 'OK'])}, see you there."]  # fmt: skip
        summary = f"{a1} and {b1} will go to {act} at {place} on {day} at {hour}."
    elif kind == 1:  # plan declined
        lines += [f"{a1}: Do you want to go to {act} on {day}?",
                  f"{b1}: Sorry, I can't on {day}, I have to work.", f"{a1}: No problem, maybe next time."]  # fmt: skip
        summary = f"{b1} can't go to {act} with {a1} on {day} because {b1} has to work."
    elif kind == 2:  # moved
        day2 = rng.choice([d for d in DAYS if d != day])
        lines += [f"{a1}: Are we still meeting at {place} on {day}?",
                  f"{b1}: Can we move it to {day2}?", f"{a1}: Yes, {day2} works for me."]  # fmt: skip
        summary = f"{a1} and {b1} moved their meeting at {place} from {day} to {day2}."
    else:  # question about a fact
        r = rng.choice(WORLD.restaurants)
        food = "fast food" if r.food == "Fast food" else f"{r.food} food"
        lines += [f"{a1}: Have you been to {r.name}?", f"{b1}: Yes, it serves {food}.",
                  f"{a1}: Is it expensive?", f"{b1}: It is {r.price}.", f"{a1}: Thanks!"]  # fmt: skip
        summary = f"{b1} tells {a1} that {r.name} serves {food} and is {r.price}."
    if rng.random() < 0.3:
        lines.insert(1, f"{b1}: {rng.choice(['Hi!', 'Hey :)', 'Hello, what is up?'])}")
    return lines, summary
