"""The tiny world every offline dataset is drawn from: restaurants, people, places, entities, tables.

The world itself is fixed (word lists below, combined with a fixed seed); each dataset samples
from it with its own seed, so train/validation/test share the vocabulary but not the examples.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

FIRST_NAMES = [
    "Amanda", "Tom", "Sarah", "Liam", "Emma", "Noah", "Olivia", "Jack", "Mia", "Lucas", "Anna", "Ben",
    "Chloe", "Daniel", "Ella", "Finn", "Grace", "Henry", "Isla", "James", "Kate", "Leo", "Lily", "Max",
    "Nina", "Oscar", "Paula", "Ryan", "Sophie", "Victor",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Brown", "Taylor", "Wilson", "Evans", "Walker", "Wright", "Hall", "Green", "Baker",
    "Clarke", "Hughes", "Turner", "Moore", "Parker", "Cooper", "Ward", "King", "Wood", "Scott",
]  # fmt: skip
NAME_ADJ = [
    "Blue",
    "Golden",
    "Red",
    "Green",
    "Silver",
    "Old",
    "Little",
    "Royal",
    "Wild",
    "Black",
    "Olive",
    "White",
]
NAME_NOUN = ["Eagle", "Spice", "Curry", "Phoenix", "Mill", "Vaults", "Rice Boat", "Wrestlers", "Punter", "Plough",
             "Cricketers", "Dumpling", "Lantern", "Anchor", "Oak", "Swan"]  # fmt: skip
EAT_TYPES = ["restaurant", "coffee shop", "pub"]
FOODS = ["French", "Italian", "Chinese", "Indian", "Japanese", "English", "Fast food"]
PRICES = ["cheap", "moderate", "high", "less than £20", "£20-25", "more than £30"]
RATINGS = ["low", "average", "high", "1 out of 5", "3 out of 5", "5 out of 5"]
AREAS = ["city centre", "riverside"]
CITIES = ["Aarhus", "Bolton", "Corvallis", "Dunmore", "Elston", "Fairport", "Glenrock", "Harwick", "Ivybridge",
          "Kelso", "Lanark", "Marlow", "Norwood", "Oakham", "Penrith", "Redcar"]  # fmt: skip
COUNTRIES = ["Denmark", "England", "Norway", "Ireland", "Scotland", "Canada", "Spain", "Italy"]
COLOURS = ["red", "blue", "green", "white", "black", "yellow"]
ANIMALS = ["dog", "cat", "horse", "bird", "fox", "rabbit"]
OBJECTS = ["book", "car", "house", "boat", "lamp", "chair", "letter", "ticket"]
JOBS = ["teacher", "doctor", "pilot", "chef", "painter", "lawyer", "farmer", "singer"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
HOURS = ["5 pm", "6 pm", "7 pm", "8 pm", "noon", "10 am"]
ACTIVITIES = ["dinner", "lunch", "coffee", "a movie", "the gym", "a walk", "the concert", "the party"]


def rng_for(*parts: object) -> random.Random:
    """A ``random.Random`` seeded from a stable hash of ``parts`` (same parts -> same stream)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


@dataclass(frozen=True)
class Restaurant:
    name: str
    eat_type: str
    food: str
    price: str
    rating: str
    area: str
    family: str
    near: str


@dataclass(frozen=True)
class Person:
    name: str
    job: str
    city: str
    pet: str
    colour: str
    age: int


@dataclass
class World:
    restaurants: list[Restaurant] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)


def _build_world() -> World:
    rng = rng_for("world", 0)
    names = [f"The {a} {n}" if rng.random() < 0.5 else f"{a} {n}" for a in NAME_ADJ for n in NAME_NOUN]
    rng.shuffle(names)
    names = names[:72]
    rests = [
        Restaurant(
            name=nm,
            eat_type=rng.choice(EAT_TYPES),
            food=rng.choice(FOODS),
            price=rng.choice(PRICES),
            rating=rng.choice(RATINGS),
            area=rng.choice(AREAS),
            family=rng.choice(["yes", "no"]),
            near=rng.choice([x for x in names if x != nm]),
        )
        for nm in names
    ]
    full = [f"{f} {last}" for f in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(full)
    people = [
        Person(
            nm,
            rng.choice(JOBS),
            rng.choice(CITIES),
            rng.choice(ANIMALS),
            rng.choice(COLOURS),
            rng.randint(20, 70),
        )
        for nm in full[:120]
    ]
    return World(rests, people)


WORLD = _build_world()
