"""``lora-repro data task=<name> split=<split> n=<k> [family=encoder|decoder] [task.source=<dir>] [profile=...]``.

Prints k formatted examples as JSON lines: the model input text (and pair), the target or label, and
for generation tasks the grouped references of each input (one line per distinct input).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from omegaconf import OmegaConf

from lora_repro.config import split_args
from lora_repro.validate import COUNT, TASK_RULES, Rule, check_own, check_tree, compose_checked, optional


def _task_from_cfg(cfg) -> Any:
    from lora_repro.tasks import get_task

    task_cfg = OmegaConf.to_container(cfg.task, resolve=True)
    profile = cfg.profile.name if "profile" in cfg else "tiny"
    options = {k: v for k, v in task_cfg.items() if k not in ("name", "source")}
    if "cache_dir" in cfg.get("profile", {}):
        options.setdefault("cache_dir", cfg.profile.cache_dir)
    return get_task(task_cfg["name"], profile=profile, source=task_cfg.get("source"), **options)


def main(argv: list[str]) -> int:
    own, overrides = split_args(argv, {"split": "test", "n": 3, "family": None})
    check_own("data", own, {"n": COUNT, "family": optional(Rule("choice", choices=("encoder", "decoder")))})
    n = own["n"]
    from lora_repro.tasks import TASKS

    for arg in overrides:
        key, _, value = arg.partition("=")
        if key.lstrip("+") == "task" and value not in TASKS:
            raise ValueError(f"unknown task {value!r}; allowed: {TASKS}")
    cfg = compose_checked(overrides, "data", groups=("task", "profile"))
    check_tree(OmegaConf.to_container(cfg, resolve=True), TASK_RULES)
    task = _task_from_cfg(cfg)
    family = own["family"] or ("decoder" if task.kind == "generation" else "encoder")
    if family not in ("encoder", "decoder"):
        raise ValueError(f"unknown family {family!r}; allowed: encoder, decoder")
    ds = task.load(own["split"])
    out = sys.stdout
    if task.kind == "generation":
        sub = ds.select(range(min(len(ds), max(n, 1) * 8)))
        targets: dict[str, str | None] = {}
        for row in sub:
            ex = task.format(row, family)
            targets.setdefault(ex["text"], ex["target"])
        for g in task.eval_groups(sub, family)[:n]:
            ex = {
                "task": task.name,
                "split": own["split"],
                "text": g["text"],
                "target": targets.get(g["text"]),
            }
            ex.update(references=g["references"], meta=g["meta"])
            out.write(json.dumps(ex, ensure_ascii=False, default=str) + "\n")
        return 0
    for row in ds.select(range(min(n, len(ds)))):
        ex = task.format(row, family)
        line = {"task": task.name, "split": own["split"], **ex}
        if task.label_names and isinstance(ex["label"], int) and ex["label"] >= 0:
            line["label_name"] = task.label_names[ex["label"]]
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    return 0
