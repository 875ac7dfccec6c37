"""DART v1.1.1 (``Yale-LILY/dart``, parquet branch): rows are triple sets with their annotations.

Context x = ``subj : pred : obj | ...`` with the predicate lower-cased (microsoft/LoRA
format_converting_dart.py), y = " " + one annotation text; training uses every annotation, evaluation
groups all annotations of a triple set. ``task.text_format=reference``: targets unstripped as in the
reference files, and one reference group per distinct context (several triple sets can share one), as
the reference scorer builds them: :mod:`lora_repro.tasks.reference_format`.
"""

from __future__ import annotations

from datasets import Dataset

from lora_repro.tasks.base import HubSizes, Task, generation_example, register_task
from lora_repro.tasks.reference_format import group_by_context, reference_examples, resolve_text_format
from lora_repro.tasks.schemas import DART_FEATURES
from lora_repro.tasks.sources import HubSpec
from lora_repro.tiny.synthetic.triples import dart_entry


def linearise_tripleset(tripleset: list[list[str]]) -> str:
    """``[[s, p, o], ...]`` -> ``"s : p.lower() : o | ..."``."""
    out = []
    for t in tripleset:
        if len(t) != 3:
            raise ValueError(f"not a DART triple [subject, predicate, object]: {t!r}")
        out.append(f"{t[0]} : {t[1].lower()} : {t[2]}")
    return " | ".join(out)


@register_task("dart")
class DartTask(Task):
    kind = "generation"
    metric = "dart"
    select_metric = ("BLEU", "max")
    hub = HubSpec("Yale-LILY/dart", None, "refs/convert/parquet", "default")
    features = DART_FEATURES
    hub_splits = ["train", "validation", "test"]
    splits = {"train": "train", "validation": "validation", "test": "test"}
    hub_sizes = HubSizes(62_659, 6_980, 70, 5, gen_len=40, n_test_inputs=5_097)
    multi_reference = True

    def __init__(self, name: str, profile: str = "tiny", source: str | None = None, **options):
        super().__init__(name, profile=profile, source=source, **options)
        self.text_format = resolve_text_format(name, options.get("text_format"), profile)

    def examples(self, ds: Dataset, family: str = "decoder") -> list[dict]:
        if self.text_format == "hub":
            return super().examples(ds, family)
        return [
            ex
            for row in ds
            for ex in reference_examples(self.format(row, family), row["annotations"]["text"])
        ]

    def generate(self, split: str, n: int, seed: int) -> list[dict]:
        rng = self.rng(split, seed)
        rows = []
        for _ in range(n):
            triples, source, texts = dart_entry(rng)
            extended = None if source == "e2e" else rng.random() < 0.3
            rows.append(
                {
                    "tripleset": triples,
                    "subtree_was_extended": extended,
                    "annotations": {"source": [source] * len(texts), "text": texts},
                }
            )
        return rows

    def format(self, row: dict, family: str = "decoder") -> dict:
        refs = [t.strip() for t in row["annotations"]["text"]]
        return generation_example(
            linearise_tripleset(row["tripleset"]), " " + refs[0] if refs else None, refs
        )

    def eval_groups(self, ds, family: str = "decoder") -> list[dict]:
        """One group per triple set with all its annotation texts; meta {source}.

        ``reference`` format: one group per distinct context (meta of its first triple set)."""
        if self.text_format == "reference":
            return group_by_context(ds, lambda r: self.format(r, family), self._meta)
        out = []
        for row in ds:
            ex = self.format(row, family)
            out.append({"text": ex["text"], "references": ex["references"], "meta": self._meta(row)})
        return out

    @staticmethod
    def _meta(row: dict) -> dict:
        sources = row["annotations"]["source"]
        return {"source": sources[0] if sources else ""}
