"""Tasks: every dataset of the paper from the hub, and an offline twin of each in the same schema.

``get_task(name, profile="tiny", source=None, **options)`` -> a :class:`~lora_repro.tasks.base.Task`;
see docs/CONTRACTS.md and docs/tasks.md.
"""

from __future__ import annotations

from typing import Any

from lora_repro.tasks.base import Task

TASKS: list[str] = [
    "mnli", "sst2", "mrpc", "cola", "qnli", "qqp", "rte", "stsb", "mnli_100", "mnli_1k", "mnli_10k",
    "e2e", "webnlg", "dart", "wikisql", "samsum",
]  # fmt: skip
_CONFIG_KEYS = {"name", "profile", "source"}


def _task_class(name: str) -> type[Task]:
    from lora_repro.tasks.glue import GLUE_TASKS

    if name in GLUE_TASKS:
        return GLUE_TASKS[name]
    if name == "e2e":
        from lora_repro.tasks.e2e import E2ETask

        return E2ETask
    if name == "webnlg":
        from lora_repro.tasks.webnlg import WebNLGTask

        return WebNLGTask
    if name == "dart":
        from lora_repro.tasks.dart import DartTask

        return DartTask
    if name == "wikisql":
        from lora_repro.tasks.wikisql import WikiSQLTask

        return WikiSQLTask
    if name == "samsum":
        from lora_repro.tasks.samsum import SamsumTask

        return SamsumTask
    raise ValueError(f"unknown task {name!r}; allowed: {TASKS}")


def task_options(name: str) -> dict[str, Any]:
    """The options in ``configs/task/<name>.yaml`` (without name/profile/source)."""
    from lora_repro.config import load_group_file

    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; allowed: {TASKS}")
    return {k: v for k, v in load_group_file("task", name).items() if k not in _CONFIG_KEYS}


def get_task(name: str, profile: str = "tiny", source: str | None = None, **options: Any) -> Task:
    """The task ``name``; ``options`` override ``configs/task/<name>.yaml`` (keys name/profile/source ignored)."""
    merged = task_options(name)
    from omegaconf import DictConfig, ListConfig, OmegaConf

    for k, v in options.items():
        if isinstance(v, DictConfig | ListConfig):
            v = OmegaConf.to_container(v, resolve=True)
        if k in _CONFIG_KEYS:
            continue
        if isinstance(v, dict) and isinstance(merged.get(k), dict):
            merged[k] = {**merged[k], **v}
        else:
            merged[k] = v
    if source is not None:
        source = str(source)
    return _task_class(name)(name, profile=profile, source=source or None, **merged)


__all__ = ["TASKS", "Task", "get_task", "task_options"]
