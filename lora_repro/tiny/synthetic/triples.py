"""WebNLG- and DART-style triple sets with references, drawn from the tiny world.

WebNLG: 15 categories with the real names; the 5 unseen ones (Athlete, Artist, CelestialBody,
MeanOfTransportation, Politician) appear only in test. Properties are partly shared across categories
(country, location, birthPlace...), so unseen categories are learnable in part, as in the real data.
"""

from __future__ import annotations

import random

from lora_repro.tiny.synthetic.text import E2E_SLOTS, realise_mr, restaurant_slots
from lora_repro.tiny.synthetic.world import CITIES, COUNTRIES, FIRST_NAMES, LAST_NAMES, NAME_ADJ, WORLD

SEEN = ["Airport", "Astronaut", "Building", "City", "ComicsCharacter", "Food", "Monument", "SportsTeam",
        "University", "WrittenWork"]  # fmt: skip
UNSEEN = ["Athlete", "Artist", "CelestialBody", "MeanOfTransportation", "Politician"]


def _num(lo: int, hi: int):
    return lambda rng: str(rng.randint(lo, hi))


def _pick(pool: list[str]):
    return lambda rng: rng.choice(pool)


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)}_{rng.choice(LAST_NAMES)}"


# property -> (object generator, templates with {s} subject and {o} object)
PROPS = {
    "country": (_pick(COUNTRIES), ["{s} is in {o}.", "{s} is located in the country of {o}."]),
    "location": (_pick(CITIES), ["{s} is located in {o}.", "{s} can be found in {o}."]),
    "birthPlace": (_pick(CITIES), ["{s} was born in {o}.", "{s}'s birthplace is {o}."]),
    "birthYear": (_num(1930, 1995), ["{s} was born in {o}.", "{s} was born in the year {o}."]),
    "nationality": (_pick(COUNTRIES), ["{s} is a national of {o}.", "{s} has {o} nationality."]),
    "cityServed": (_pick(CITIES), ["{s} serves the city of {o}.", "{s} serves {o}."]),
    "runwayLength": (_num(900, 4000), ["The runway length of {s} is {o}.", "{s} has a runway that is {o} long."]),
    "elevationAboveTheSeaLevel": (_num(1, 900), ["{s} is {o} metres above sea level.", "{s} has an elevation of {o}."]),
    "occupation": (_pick(["test pilot", "engineer", "physicist", "teacher"]), ["{s} worked as a {o}.", "{s} was a {o}."]),
    "mission": (_pick(["Apollo 8", "Apollo 12", "Gemini 5", "Skylab 3"]), ["{s} was a crew member of {o}.", "{s} flew on {o}."]),
    "floorCount": (_num(3, 90), ["{s} has {o} floors.", "There are {o} floors in {s}."]),
    "architect": (_person, ["{s} was designed by {o}.", "The architect of {s} is {o}."]),
    "leaderName": (_person, ["The leader of {s} is {o}.", "{s} is led by {o}."]),
    "populationTotal": (_num(5000, 900000), ["{s} has a population of {o}.", "The population of {s} is {o}."]),
    "creator": (_person, ["{s} was created by {o}.", "{o} created {s}."]),
    "alterEgo": (_person, ["The alter ego of {s} is {o}.", "{s}'s alter ego is {o}."]),
    "ingredient": (_pick(["rice", "cheese", "tomato", "potato", "chicken", "garlic"]), ["{o} is an ingredient of {s}.", "{s} contains {o}."]),
    "region": (_pick(CITIES), ["{s} comes from the region of {o}.", "{s} is from {o}."]),
    "material": (_pick(["granite", "marble", "bronze", "limestone"]), ["{s} is made of {o}.", "{s} was built from {o}."]),
    "established": (_num(1800, 2010), ["{s} was established in {o}.", "{s} was founded in {o}."]),
    "ground": (_pick([f"{c} Stadium" for c in CITIES]), ["{s} play their home games at {o}.", "The ground of {s} is {o}."]),
    "manager": (_person, ["{s} is managed by {o}.", "The manager of {s} is {o}."]),
    "numberOfStudents": (_num(800, 40000), ["{s} has {o} students.", "There are {o} students at {s}."]),
    "author": (_person, ["{s} was written by {o}.", "{o} is the author of {s}."]),
    "numberOfPages": (_num(90, 900), ["{s} has {o} pages.", "{s} is {o} pages long."]),
    "club": (_pick([f"{c} FC" for c in CITIES]), ["{s} plays for {o}.", "{s} is a member of {o}."]),
    "genre": (_pick(["jazz", "rock", "folk", "pop", "blues"]), ["{s} performs {o} music.", "The genre of {s} is {o}."]),
    "discoverer": (_person, ["{s} was discovered by {o}.", "{o} discovered {s}."]),
    "orbitalPeriod": (_num(100, 9000), ["{s} has an orbital period of {o} days.", "The orbital period of {s} is {o}."]),
    "manufacturer": (_pick(["Volvo", "Airbus", "Alstom", "Fiat"]), ["{s} is made by {o}.", "{s} is manufactured by {o}."]),
    "length": (_num(3, 300), ["{s} is {o} metres long.", "The length of {s} is {o}."]),
    "party": (_pick(["Labour Party", "Green Party", "Liberal Party"]), ["{s} is a member of the {o}.", "{s} belongs to the {o}."]),
    "office": (_pick(["Mayor", "Governor", "Senator"]), ["{s} worked as {o}.", "{s} held the office of {o}."]),
}  # fmt: skip

CATEGORIES: dict[str, tuple] = {
    "Airport": (lambda r: f"{r.choice(CITIES)}_Airport", ["cityServed", "runwayLength", "elevationAboveTheSeaLevel", "country", "location"]),
    "Astronaut": (_person, ["birthPlace", "birthYear", "occupation", "mission", "nationality"]),
    "Building": (lambda r: f"{r.choice(NAME_ADJ)}_Tower", ["floorCount", "architect", "location", "country", "established"]),
    "City": (_pick(CITIES), ["country", "leaderName", "populationTotal", "established"]),
    "ComicsCharacter": (lambda r: f"{r.choice(NAME_ADJ)}_{r.choice(['Knight', 'Hawk', 'Falcon'])}", ["creator", "alterEgo", "nationality"]),
    "Food": (lambda r: f"{r.choice(CITIES)}_{r.choice(['pie', 'stew', 'cake'])}", ["ingredient", "region", "country"]),
    "Monument": (lambda r: f"{r.choice(NAME_ADJ)}_Memorial", ["material", "location", "established", "country"]),
    "SportsTeam": (lambda r: f"{r.choice(CITIES)}_FC", ["ground", "manager", "established", "location"]),
    "University": (lambda r: f"University_of_{r.choice(CITIES)}", ["numberOfStudents", "established", "location", "country"]),
    "WrittenWork": (lambda r: f"The_{r.choice(NAME_ADJ)}_{r.choice(['Book', 'Letters', 'Garden'])}", ["author", "numberOfPages", "country"]),
    "Athlete": (_person, ["club", "birthPlace", "birthYear", "nationality"]),
    "Artist": (_person, ["genre", "birthPlace", "birthYear", "nationality"]),
    "CelestialBody": (lambda r: f"{r.randint(100, 999)}_{r.choice(['Ceres', 'Vesta', 'Juno'])}", ["discoverer", "orbitalPeriod", "established"]),
    "MeanOfTransportation": (lambda r: f"{r.choice(NAME_ADJ)}_{r.choice(['Express', 'Liner'])}", ["manufacturer", "length", "country"]),
    "Politician": (_person, ["party", "office", "birthPlace", "nationality"]),
}  # fmt: skip


def show(entity: str) -> str:
    """DBpedia-style id -> text (``Aarhus_Airport`` -> ``Aarhus Airport``)."""
    return entity.replace("_", " ")


def realise_triples(triples: list[tuple[str, str, str]], rng: random.Random) -> str:
    """A reference for triples sharing one subject: sentences joined, later ones start with a pronoun."""
    sents = []
    for i, (s, p, o) in enumerate(triples):
        person = s.split("_")[0] in FIRST_NAMES
        subj = show(s) if i == 0 or person or rng.random() < 0.5 else "It"
        sents.append(rng.choice(PROPS[p][1]).format(s=subj, o=show(o)))
    if len(sents) >= 2 and rng.random() < 0.4:
        a, b = sents[0].rstrip("."), sents[1]
        sents[:2] = [f"{a} and {b[0].lower()}{b[1:]}" if b.startswith("It ") else f"{a}, and {b}"]
    return " ".join(sents)


def webnlg_entry(category: str, rng: random.Random) -> tuple[list[str], list[tuple[str, str, str]]]:
    """(triples as "S | p | O" strings, triples as tuples) of one entry of ``category``."""
    subj_fn, props = CATEGORIES[category]
    subject = subj_fn(rng)
    chosen = rng.sample(props, rng.randint(1, min(4, len(props))))
    triples = [(subject, p, PROPS[p][0](rng)) for p in chosen]
    return [f"{s} | {p} | {o}" for s, p, o in triples], triples


def dart_entry(rng: random.Random) -> tuple[list[list[str]], str, list[str]]:
    """(tripleset, annotation source, texts) of one DART-style entry."""
    kind = rng.random()
    n_text = rng.randint(1, 3)
    if kind < 0.4:
        slots = restaurant_slots(rng.choice(WORLD.restaurants))
        keep = ["name"] + rng.sample(E2E_SLOTS[1:], rng.randint(1, 4))
        mr = {k: slots[k] for k in E2E_SLOTS if k in keep}
        triples = [[mr["name"], k, v] for k, v in mr.items() if k != "name"]
        return triples, "e2e", [realise_mr(mr, rng) for _ in range(n_text)]
    if kind < 0.7:
        cat = rng.choice(SEEN + UNSEEN)
        _, tri = webnlg_entry(cat, rng)
        return [list(t) for t in tri], "webnlg", [realise_triples(tri, rng) for _ in range(n_text)]
    p = rng.choice(WORLD.people)
    title = f"{p.city} {rng.choice(['Chess Club', 'Rowing Club', 'Choir'])}"
    cols = rng.sample([("JOB", p.job), ("AGE", str(p.age)), ("PET", p.pet)], rng.randint(1, 3))
    triples = [["[TABLECONTEXT]", "[TITLE]", title], ["[TABLECONTEXT]", "MEMBER", p.name]]
    triples += [[p.name, c, v] for c, v in cols]
    texts = []
    for _ in range(n_text):
        parts = [
            f"{'is a' if c == 'JOB' else 'is aged' if c == 'AGE' else 'has a'} {v}"
            for c, v in rng.sample(cols, len(cols))
        ]
        facts = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        texts.append(
            rng.choice([f"{p.name}, a member of the {title}, {facts}.", f"In the {title}, {p.name} {facts}."])
        )
    return triples, rng.choice(["WikiTableQuestions_mturk", "WikiSQL_decl_sents"]), texts
