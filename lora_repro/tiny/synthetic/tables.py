"""WikiSQL-style tables with questions and executable SQL (the hub's ``table`` and ``sql`` structs)."""

from __future__ import annotations

import random

from lora_repro.tiny.synthetic.world import CITIES, WORLD

AGG_OPS = ["", "MAX", "MIN", "COUNT", "SUM", "AVG"]
COND_OPS = ["=", ">", "<", "OP"]


def _people_table(rng: random.Random) -> tuple[list[str], list[str], list[list[str]], str]:
    people = rng.sample(WORLD.people, rng.randint(5, 8))
    rows = [[p.name, p.job, p.city, str(p.age)] for p in people]
    return ["Name", "Job", "City", "Age"], ["text", "text", "text", "real"], rows, "Club members"


def _restaurant_table(rng: random.Random) -> tuple[list[str], list[str], list[list[str]], str]:
    rests = rng.sample(WORLD.restaurants, rng.randint(5, 8))
    rows = [[r.name, r.food, r.area, str(rng.randint(10, 99))] for r in rests]
    return ["Restaurant", "Cuisine", "Area", "Seats"], ["text", "text", "text", "real"], rows, "Places to eat"


def _match_table(rng: random.Random) -> tuple[list[str], list[str], list[list[str]], str]:
    teams = rng.sample([f"{c} FC" for c in CITIES], rng.randint(5, 8))
    rows = [[t, rng.choice(CITIES), str(rng.randint(0, 40)), str(rng.randint(1990, 2020))] for t in teams]
    return ["Team", "Ground", "Goals", "Season"], ["text", "text", "real", "real"], rows, "League results"


def human_readable(header: list[str], sel: int, agg: int, conds: list[tuple[int, int, str]]) -> str:
    """The hub's ``sql.human_readable``: ``SELECT {AGG} {col} FROM table WHERE {col} {op} {val} AND ...``."""
    s = f"SELECT {AGG_OPS[agg]} {header[sel]} FROM table"
    if conds:
        s += " WHERE " + " AND ".join(f"{header[c]} {COND_OPS[o]} {v}" for c, o, v in conds)
    return " ".join(s.split())


def execute(table: dict, sql: dict) -> list:
    """Run a WikiSQL query on its table (numbers compared as floats for > and <)."""
    conds = sql["conds"]
    rows = table["rows"]
    for c, o, v in zip(conds["column_index"], conds["operator_index"], conds["condition"], strict=True):
        if o == 0:
            rows = [r for r in rows if r[c].lower() == str(v).lower()]
        elif o == 1:
            rows = [r for r in rows if float(r[c]) > float(v)]
        else:
            rows = [r for r in rows if float(r[c]) < float(v)]
    vals = [r[sql["sel"]] for r in rows]
    agg = sql["agg"]
    if agg == 0:
        return vals
    if agg == 3:
        return [len(vals)]
    nums = [float(x) for x in vals]
    if not nums:
        return [None]
    return [{1: max, 2: min, 4: sum}.get(agg, lambda x: sum(x) / len(x))(nums)]


def _question(header, types, rows, rng) -> tuple[str, int, int, list[tuple[int, int, str]]]:
    key = 0
    row = rng.choice(rows)
    kind = rng.random()
    text_cols = [i for i, t in enumerate(types) if t == "text" and i != key]
    num_cols = [i for i, t in enumerate(types) if t == "real"]
    if kind < 0.35:  # look-up of one cell
        sel = rng.choice([i for i in range(len(header)) if i != key])
        q = rng.choice(["What is the {s} of {v}?", "Which {s} does {v} have?", "Tell me the {s} for {v}."])
        return q.format(s=header[sel].lower(), v=row[key]), sel, 0, [(key, 0, row[key])]
    if kind < 0.55:  # reverse look-up
        c = rng.choice(text_cols)
        q = rng.choice(["Which {k} has {c} {v}?", "Name the {k} with {c} {v}."])
        return q.format(k=header[key].lower(), c=header[c].lower(), v=row[c]), key, 0, [(c, 0, row[c])]
    if kind < 0.7:  # count
        c = rng.choice(text_cols)
        q = rng.choice(["How many {k} have {c} {v}?", "What is the number of {k} with {c} {v}?"])
        return q.format(k=header[key].lower(), c=header[c].lower(), v=row[c]), key, 3, [(c, 0, row[c])]
    if kind < 0.85:  # comparison
        n = rng.choice(num_cols)
        op = rng.choice([1, 2])
        word = "more than" if op == 1 else "less than"
        q = rng.choice(["Which {k} has {n} {w} {v}?", "Name the {k} with {w} {v} {n}."])
        return (
            q.format(k=header[key].lower(), n=header[n].lower(), w=word, v=row[n]),
            key,
            0,
            [(n, op, row[n])],
        )
    n = rng.choice(num_cols)  # aggregate with a condition
    c = rng.choice(text_cols)
    agg = rng.choice([1, 2])
    word = "highest" if agg == 1 else "lowest"
    q = rng.choice(["What is the {w} {n} when {c} is {v}?", "Which is the {w} {n} for {c} {v}?"])
    return q.format(w=word, n=header[n].lower(), c=header[c].lower(), v=row[c]), n, agg, [(c, 0, row[c])]


def wikisql_rows(n: int, rng: random.Random, split: str) -> list[dict]:
    """``n`` WikiSQL rows; every question's SQL executes on its table to a non-empty answer."""
    out: list[dict] = []
    t_id = 0
    while len(out) < n:
        t_id += 1
        header, types, rows, title = rng.choice([_people_table, _restaurant_table, _match_table])(rng)
        tid = f"{rng.randint(1, 2)}-{rng.randint(10000, 99999)}-{t_id}"
        table = {
            "header": header,
            "page_title": title,
            "page_id": str(rng.randint(1000, 999999)),
            "types": types,
            "id": tid,
            "section_title": rng.choice(["Results", "Members", "Overview"]),
            "caption": title,
            "rows": rows,
            "name": "table_" + tid.replace("-", "_"),
        }
        for _ in range(rng.randint(2, 5)):
            if len(out) >= n:
                break
            question, sel, agg, conds = _question(header, types, rows, rng)
            sql = {
                "human_readable": human_readable(header, sel, agg, conds),
                "sel": sel,
                "agg": agg,
                "conds": {
                    "column_index": [c for c, _, _ in conds],
                    "operator_index": [o for _, o, _ in conds],
                    "condition": [v for _, _, v in conds],
                },
            }
            if execute(table, sql) in ([], [None], [0]):
                continue
            out.append(
                {"phase": 1 if split == "train" else 2, "question": question, "table": table, "sql": sql}
            )
    return out
