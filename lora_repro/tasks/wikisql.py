"""WikiSQL (``Salesforce/wikisql``, parquet branch): natural-language question over a table -> SQL.

App. C: x = {table schema, question}, y = SQL. Here x = ``"table: <header | ...>\\nquestion: <q>\\nsql:"``
and y = " " + ``sql.human_readable``. The paper reports validation accuracy, so the test role reads the
hub's validation split.
"""

from __future__ import annotations

from lora_repro.tasks.base import HubSizes, Task, generation_example, register_task
from lora_repro.tasks.schemas import WIKISQL_FEATURES
from lora_repro.tasks.sources import HubSpec
from lora_repro.tiny.synthetic.tables import wikisql_rows


@register_task("wikisql")
class WikiSQLTask(Task):
    kind = "generation"
    metric = "wikisql"
    select_metric = ("lf_accuracy", "max")
    hub = HubSpec("Salesforce/wikisql", None, "refs/convert/parquet", "default")
    features = WIKISQL_FEATURES
    hub_splits = ["train", "validation", "test"]
    splits = {"train": "train", "validation": "validation", "test": "validation"}
    hub_sizes = HubSizes(56_355, 8_421, 200, 2)
    meta_args = {"table": "tables"}  # eval-group meta -> metrics.score keyword

    def generate(self, split: str, n: int, seed: int) -> list[dict]:
        return wikisql_rows(n, self.rng(split, seed), split)

    def format(self, row: dict, family: str = "decoder") -> dict:
        header = " | ".join(row["table"]["header"])
        text = f"table: {header}\nquestion: {row['question'].strip()}\nsql:"
        return generation_example(text, " " + row["sql"]["human_readable"].strip())

    def eval_groups(self, ds, family: str = "decoder") -> list[dict]:
        """One group per question: reference SQL; meta {table, sql} for logical-form/execution accuracy."""
        out = []
        for row in ds:
            ex = self.format(row, family)
            out.append(
                {
                    "text": ex["text"],
                    "references": [ex["target"].strip()],
                    "meta": {"table": row["table"], "sql": row["sql"]},
                }
            )
        return out
