"""E2E NLG (``tuetschek/e2e_nlg``): one row per (meaning representation, human reference) pair.

Context x = the MR linearised as in the reference code's data files (``name : The Eagle | Type : pub |
...``), y = " " + reference. Test references are grouped per MR (consecutive rows, order kept).
``task.text_format=reference`` tokenises the MR values and the references as the reference files do
(``£ 20 - 25``, ``... called Blue Spice .``): :mod:`lora_repro.tasks.reference_format`.
"""

from __future__ import annotations

import re

from lora_repro.tasks.base import HubSizes, Task, generation_example, register_task
from lora_repro.tasks.reference_format import resolve_text_format, tokenise_e2e
from lora_repro.tasks.schemas import E2E_FEATURES
from lora_repro.tasks.sources import HubSpec
from lora_repro.tiny.synthetic.text import E2E_SLOTS, realise_mr, restaurant_slots
from lora_repro.tiny.synthetic.world import WORLD

# MR attribute -> the key the reference code's linearised data uses.
MR_KEYS = {"eatType": "Type", "priceRange": "price", "familyFriendly": "family friendly"}
_MR_ITEM = re.compile(r"\s*([^\[\],]+?)\s*\[([^\]]*)\]")


def parse_mr(mr: str) -> list[tuple[str, str]]:
    """``"name[The Eagle], eatType[pub]"`` -> ``[("name", "The Eagle"), ("eatType", "pub")]``."""
    items = _MR_ITEM.findall(mr)
    if not items:
        raise ValueError(f"not an E2E meaning representation: {mr!r}")
    return items


def linearise_mr(mr: str, tokenise: bool = False) -> str:
    """The reference code's context: ``name : The Eagle | Type : pub | price : cheap``.

    ``tokenise``: the values as the reference files write them (``price : £ 20 - 25``)."""
    return " | ".join(f"{MR_KEYS.get(k, k)} : {tokenise_e2e(v) if tokenise else v}" for k, v in parse_mr(mr))


def group_rows(rows, key: str, text_of, refs_of) -> list[dict]:
    """Group consecutive-or-not rows by ``row[key]`` keeping first-seen order (references in row order)."""
    groups: dict[str, dict] = {}
    for row in rows:
        k = row[key]
        if k not in groups:
            groups[k] = {"text": text_of(row), "references": [], "meta": {}}
        groups[k]["references"] += refs_of(row)
    return list(groups.values())


@register_task("e2e")
class E2ETask(Task):
    kind = "generation"
    metric = "e2e"
    select_metric = ("BLEU", "max")
    hub = HubSpec("tuetschek/e2e_nlg", None, "refs/convert/parquet", "default")
    features = E2E_FEATURES
    hub_splits = ["train", "validation", "test"]
    splits = {"train": "train", "validation": "validation", "test": "test"}
    hub_sizes = HubSizes(42_061, 4_672, 60, 5, gen_len=30, n_test_inputs=630)

    def __init__(self, name: str, profile: str = "tiny", source: str | None = None, **options):
        super().__init__(name, profile=profile, source=source, **options)
        self.text_format = resolve_text_format(name, options.get("text_format"), profile)

    def _context(self, row: dict) -> str:
        return linearise_mr(row["meaning_representation"], tokenise=self.text_format == "reference")

    def _reference(self, row: dict) -> str:
        text = row["human_reference"].strip()
        return tokenise_e2e(text) if self.text_format == "reference" else text

    def generate(self, split: str, n: int, seed: int) -> list[dict]:
        """MRs of 3-8 slots, each with several template references (test: 3-7 per MR, consecutive)."""
        rng = self.rng(split, seed)
        rows: list[dict] = []
        while len(rows) < n:
            r = rng.choice(WORLD.restaurants)
            slots = restaurant_slots(r)
            k = rng.randint(2, 7)
            keep = ["name"] + sorted(rng.sample(E2E_SLOTS[1:], k), key=E2E_SLOTS.index)
            mr_slots = {s: slots[s] for s in keep}
            mr = ", ".join(f"{s}[{v}]" for s, v in mr_slots.items())
            n_refs = rng.randint(3, 7) if split == "test" else rng.randint(1, 4)
            for _ in range(min(n_refs, n - len(rows))):
                rows.append({"meaning_representation": mr, "human_reference": realise_mr(mr_slots, rng)})
        return rows

    def format(self, row: dict, family: str = "decoder") -> dict:
        return generation_example(self._context(row), " " + self._reference(row))

    def eval_groups(self, ds, family: str = "decoder") -> list[dict]:
        """One entry per MR (first-seen order) with all its references."""
        groups = group_rows(
            ds,
            "meaning_representation",
            self._context,
            lambda r: [self._reference(r)],
        )
        for g, mr in zip(groups, dict.fromkeys(r["meaning_representation"] for r in ds), strict=True):
            g["meta"] = {"meaning_representation": mr}
        return groups
