"""SAMSum (``knkarthick/samsum``): chat dialogues with one-sentence summaries.

App. C: x = the utterances joined by "\\n" followed by "\\n\\n", y = the summary. Dialogues on the hub
separate utterances with "\\r\\n"; both are accepted. ``id`` is cast to string and rows with an empty
dialogue or summary (CSV quirk) are dropped.
"""

from __future__ import annotations

from datasets import Dataset, Value

from lora_repro.tasks.base import HubSizes, Task, generation_example, register_task
from lora_repro.tasks.schemas import SAMSUM_FEATURES
from lora_repro.tasks.sources import HubSpec
from lora_repro.tiny.synthetic.text import chat


@register_task("samsum")
class SamsumTask(Task):
    kind = "generation"
    metric = "samsum"
    select_metric = ("rougeL", "max")
    hub = HubSpec("knkarthick/samsum", None, "main", None)
    features = SAMSUM_FEATURES
    hub_splits = ["train", "validation", "test"]
    splits = {"train": "train", "validation": "validation", "test": "test"}
    hub_sizes = HubSizes(14_732, 818, 500, 2)

    def normalise(self, ds: Dataset) -> Dataset:
        if "id" in ds.features and ds.features["id"] != Value("string"):
            ds = ds.cast_column("id", Value("string"))  # CSV copies may read numeric ids as int64
        return ds

    def post_load(self, ds: Dataset, split: str) -> Dataset:
        return ds.filter(
            lambda d, s: bool(d and d.strip() and s and s.strip()), input_columns=["dialogue", "summary"]
        )

    def generate(self, split: str, n: int, seed: int) -> list[dict]:
        rng = self.rng(split, seed)
        rows = []
        for _ in range(n):
            lines, summary = chat(rng)
            rows.append(
                {
                    "id": f"{rng.randint(13680000, 13869999)}",
                    "dialogue": "\r\n".join(lines),
                    "summary": summary,
                }
            )
        return rows

    def format(self, row: dict, family: str = "decoder") -> dict:
        utterances = [u.strip() for u in row["dialogue"].splitlines() if u.strip()]
        return generation_example("\n".join(utterances) + "\n\n", row["summary"].strip())

    def eval_groups(self, ds, family: str = "decoder") -> list[dict]:
        """One group per dialogue with its summary; meta {id}."""
        out = []
        for row in ds:
            ex = self.format(row, family)
            out.append({"text": ex["text"], "references": [ex["target"]], "meta": {"id": row["id"]}})
        return out
