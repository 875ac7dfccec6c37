"""WebNLG 2017 (``webnlg-challenge/web_nlg``, config ``webnlg_challenge_2017``): rows are triple sets.

Context x = the modified triples as the reference code writes them (``S : p : O | S : p : O``),
y = " " + one lexicalisation (comment "good"). Training uses every good lexicalisation
(``Task.examples``). The test role keeps the rows of ``test_category == "testdata_with_lex"`` (the
2017 test set); each reference group carries its category and whether it is seen (10 categories in
train) or unseen (5 test-only categories) for Table 14's S/U/A columns.
``task.text_format=reference``: targets unstripped as in the reference files, and one reference group
per distinct context (entries without a good lexicalisation have none), as the reference scorer builds
them: :mod:`lora_repro.tasks.reference_format`.
"""

from __future__ import annotations

from datasets import Dataset

from lora_repro.tasks.base import HubSizes, Task, generation_example, register_task
from lora_repro.tasks.reference_format import group_by_context, reference_examples, resolve_text_format
from lora_repro.tasks.schemas import WEBNLG_FEATURES
from lora_repro.tasks.sources import HubSpec
from lora_repro.tiny.synthetic.triples import SEEN, UNSEEN, realise_triples, webnlg_entry

TEST_WITH_LEX = "testdata_with_lex"
TEST_UNSEEN = "testdata_unseen_with_lex"
TEST_NO_LEX = "testdata_no_lex"


def linearise_triples(triples: list[str]) -> str:
    """``["A | p | B", ...]`` -> ``"A : p : B | ..."`` (microsoft/LoRA format_converting_webnlg.py)."""
    out = []
    for t in triples:
        parts = [x.strip() for x in t.split(" | ")]
        if len(parts) != 3:
            raise ValueError(f"not a WebNLG triple 'subject | property | object': {t!r}")
        out.append(" : ".join(parts))
    return " | ".join(out)


def _shape(size: int) -> tuple[str, str]:
    return ("(X (X))", "NA") if size == 1 else ("(X" + " (X)" * size + ")", "sibling")


@register_task("webnlg")
class WebNLGTask(Task):
    kind = "generation"
    metric = "webnlg"
    select_metric = ("BLEU", "max")
    hub = HubSpec(
        "webnlg-challenge/web_nlg", "webnlg_challenge_2017", "refs/convert/parquet", "webnlg_challenge_2017"
    )
    features = WEBNLG_FEATURES
    hub_splits = ["train", "dev", "test"]
    splits = {"train": "train", "validation": "dev", "test": "test"}
    hub_sizes = HubSizes(18_025, 2_258, 70, 5, gen_len=40, n_test_inputs=1_862)
    meta_args = {"category": "categories", "seen": "seen"}  # eval-group meta -> metrics.score keyword
    multi_reference = True

    def __init__(self, name: str, profile: str = "tiny", source: str | None = None, **options):
        super().__init__(name, profile=profile, source=source, **options)
        self.text_format = resolve_text_format(name, options.get("text_format"), profile)

    def _entry(self, category: str, eid: int, n_refs: int, rng, test_category: str) -> dict:
        strings, tuples = webnlg_entry(category, rng)
        texts = [realise_triples(tuples, rng) for _ in range(n_refs)]
        shape, shape_type = _shape(len(strings))
        return {
            "category": category,
            "size": len(strings),
            "eid": f"Id{eid}",
            "original_triple_sets": {"otriple_set": [list(strings)]},
            "modified_triple_sets": {"mtriple_set": [list(strings)]},
            "shape": shape,
            "shape_type": shape_type,
            "lex": {
                "comment": ["good"] * n_refs,
                "lid": [f"Id{i + 1}" for i in range(n_refs)],
                "text": texts,
                "lang": [""] * n_refs,
            },
            "test_category": test_category,
            "dbpedia_links": [],
            "links": [],
        }

    def generate(self, split: str, n: int, seed: int) -> list[dict]:
        """train/dev: seen categories, 1-3 lexicalisations; test: the three 2017 test files as on the hub."""
        rng = self.rng(split, seed)
        if split != "test":
            return [self._entry(rng.choice(SEEN), i + 1, rng.randint(1, 3), rng, "") for i in range(n)]
        full = [
            self._entry(rng.choice(SEEN + UNSEEN), i + 1, rng.randint(2, 3), rng, TEST_WITH_LEX)
            for i in range(n)
        ]
        unseen = [{**r, "test_category": TEST_UNSEEN} for r in full if r["category"] in UNSEEN]
        empty = {"comment": [], "lid": [], "text": [], "lang": []}
        no_lex = [{**r, "lex": empty, "test_category": TEST_NO_LEX} for r in full]
        return full + unseen + no_lex

    def post_load(self, ds: Dataset, split: str) -> Dataset:
        if split == "test":
            return ds.filter(lambda c: c == TEST_WITH_LEX, input_columns="test_category")
        return ds

    @staticmethod
    def references(row: dict, strip: bool = True) -> list[str]:
        """The "good" lexicalisations (as the reference code keeps); all of them if none carries a comment."""
        lex = row["lex"]
        good = [t for t, c in zip(lex["text"], lex["comment"], strict=True) if c == "good"]
        if not good and all(not c for c in lex["comment"]):
            good = list(lex["text"])
        return [t.strip() for t in good] if strip else good

    def examples(self, ds: Dataset, family: str = "decoder") -> list[dict]:
        if self.text_format == "hub":
            return super().examples(ds, family)
        return [
            ex
            for row in ds
            for ex in reference_examples(self.format(row, family), self.references(row, False))
        ]

    def format(self, row: dict, family: str = "decoder") -> dict:
        refs = self.references(row)
        text = linearise_triples(row["modified_triple_sets"]["mtriple_set"][0])
        return generation_example(text, " " + refs[0] if refs else None, refs)

    def eval_groups(self, ds, family: str = "decoder") -> list[dict]:
        """One group per entry: its good lexicalisations; meta {category, seen, eid}.

        ``reference`` format: one group per distinct context (meta of its first entry)."""

        def meta(row: dict) -> dict:
            return {"category": row["category"], "seen": row["category"] in SEEN, "eid": row["eid"]}

        if self.text_format == "reference":
            return group_by_context(ds, lambda r: self.format(r, family), meta)
        out = []
        for row in ds:
            ex = self.format(row, family)
            out.append({"text": ex["text"], "references": ex["references"], "meta": meta(row)})
        return out
