"""``lora-repro eval model=<m> task=<t> adapter=<dir> [profile=tiny|paper] [run_dir=<dir>] [key=value ...]``.

Evaluates a saved adapter (ours, PEFT's, or one ``lora-repro import-adapter`` wrote) on the task's
test role as a trained cell's last step does (train/trainer.py ``test_metrics``: beam search with the
cell's generation settings for NLG), without training. The config is the cell's, composed as for
``lora-repro train`` with the adapter's method and options (its per-cell hyperparameter file, the
profile's scale, then the overrides); the base model is loaded as the cell loads it and the adapter
onto it, refused when the adapter records another base model's fingerprint. Writes ``config.yaml``,
``result.json`` like a trained cell's (``epochs: []``, ``best_epoch: null``, plus ``adapter``), the
prediction files, a copy of the adapter and ``DONE`` into ``run_dir`` (default
``<runs_root>/eval-<hash>``: the hash of the config and the adapter's files); a finished evaluation
is skipped. Prints the run directory.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lora_repro import rundir
from lora_repro.atomic import write_atomic
from lora_repro.config import load_group_file, split_args


def adapter_method(adapter: Path) -> tuple[str, dict[str, Any]]:
    """The method name and options an adapter directory records (PEFT LoRA: ``lora``)."""
    from lora_repro.methods.io import CONFIG_NAME, WEIGHTS_NAME, read_config

    for name in (CONFIG_NAME, WEIGHTS_NAME):
        if not (adapter / name).is_file():
            raise FileNotFoundError(
                f"{adapter / name} not found: adapter= must be an adapter directory ({CONFIG_NAME} + {WEIGHTS_NAME})"
            )
    cfg = read_config(adapter / CONFIG_NAME)
    ours = cfg.get("lora_repro") or {}
    if ours:
        methods = ours.get("methods") or []
        if len(methods) != 1:
            raise ValueError(
                f"{adapter}: adapter records methods {[m.get('name') for m in methods]}; expected one"
            )
        return str(methods[0]["name"]), dict(methods[0].get("options") or {})
    if cfg.get("peft_type") == "LORA":
        return "lora", {
            "r": int(cfg["r"]),
            "alpha": cfg["lora_alpha"],
            "dropout": cfg.get("lora_dropout", 0.0),
        }
    raise ValueError(
        f"{adapter}: unsupported adapter type {cfg.get('peft_type')!r}; allowed: lora-repro adapters, PEFT LORA"
    )


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if v is None:
        return "null"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_value(x) for x in v) + "]"
    return str(v)


def cell_overrides(argv_overrides: list[str], name: str, options: dict[str, Any]) -> list[str]:
    """The cell's overrides: the user's, then the adapter's method and options, and no training."""
    taken = [o for o in argv_overrides if o.partition("=")[0].lstrip("+~").split(".")[0] == "method"]
    if taken:
        raise ValueError(
            f"{taken}: the method and its options come from the adapter's config; leave method= out"
        )
    keys = set(load_group_file("method", name)) - {"name"}
    own = [f"method.{k}={_value(v)}" for k, v in options.items() if k in keys]
    return [*argv_overrides, f"method={name}", *own, "train.epochs=0"]


def eval_hash(cfg: DictConfig, adapter: Path) -> str:
    """12 hex digits: the cell's config hash and the adapter's files."""
    from lora_repro.methods.io import CONFIG_NAME, WEIGHTS_NAME
    from lora_repro.train.cell import cell_hash

    h = hashlib.sha256(cell_hash(cfg).encode())
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        h.update(rundir.file_digest(adapter / name).encode())
    return h.hexdigest()[:12]


def build_eval_cell(cfg: DictConfig, adapter: Path):
    """A RunningCell with the adapter loaded onto the cell's base model and the test role only."""
    from accelerate.utils import set_seed

    from lora_repro.methods import count_parameters, load_adapter
    from lora_repro.models.load import load_model
    from lora_repro.tiny.pretrain import with_tiny_path
    from lora_repro.train.setup import RunningCell, load_test_role, make_accelerator, make_task

    if int(cfg.accelerate.num_processes) != 1 or cfg.accelerate.config_file:
        raise ValueError(
            "lora-repro eval runs in one process; allowed: accelerate.num_processes=1, no config_file"
        )
    if cfg.train.num_threads:
        import torch

        torch.set_num_threads(int(cfg.train.num_threads))
    acc, _ = make_accelerator(cfg)
    task = make_task(cfg)
    family, regression = cfg.model.kind, task.kind == "regression"
    set_seed(int(cfg.seed))
    loaded = load_model(
        with_tiny_path(cfg.model, cfg.profile.name, cfg.profile.cache_dir), cfg.profile.name, cfg.profile.cache_dir,
        num_labels=task.num_labels if family == "encoder" else None, regression=regression,
        cls_dropout=cfg.train.cls_dropout,
    )  # fmt: skip
    model = load_adapter(loaded.model, adapter)  # refuses another base model (fingerprint), shapes
    params = count_parameters(model)
    data = load_test_role(cfg, task, loaded.tokenizer, family)
    return RunningCell(
        accelerator=acc, task=task, model=acc.prepare(model), tokenizer=loaded.tokenizer, family=family,
        regression=regression, prefix=hasattr(model, "prefix_tuning"), params=params, train=[], validation=[],
        source=loaded.source, **data,
    )  # fmt: skip


def adapter_record(cell, adapter: Path) -> dict[str, Any]:
    """What result.json says about the evaluated adapter."""
    from lora_repro.methods import applied_methods
    from lora_repro.methods.io import CONFIG_NAME, WEIGHTS_NAME, base_fingerprint, read_config

    inner = cell.accelerator.unwrap_model(cell.model)
    return {
        "path": str(adapter.resolve()),
        "methods": applied_methods(inner),
        "base_fingerprint": base_fingerprint(inner),
        "base": cell.source,
        "sha256": {n: rundir.file_digest(adapter / n) for n in (CONFIG_NAME, WEIGHTS_NAME)},
        "source": (read_config(adapter / CONFIG_NAME).get("lora_repro") or {}).get("source"),
    }


def evaluate(cfg: DictConfig, adapter: Path, run_dir: Path, digest: str, check) -> dict[str, Any]:
    """Build, then (only then) write the run directory: test metrics, predictions, adapter copy, DONE."""
    from lora_repro.environment import environment
    from lora_repro.train.cell import prepare_run_dir
    from lora_repro.train.trainer import config_container, test_metrics
    from lora_repro.train.worker import git_commit, peak_memory_mb, write_predictions

    start = time.time()
    cell = build_eval_cell(cfg, adapter)  # every refusal happens before anything is written
    prepare_run_dir(run_dir)
    if check.state == "damaged":
        aside = rundir.move_aside(run_dir)
        print(f"lora-repro eval: {check.problem}; moved the run's files to {aside}", file=sys.stderr)
    write_atomic(run_dir / rundir.CONFIG, OmegaConf.to_yaml(cfg))
    test, rows = test_metrics(cfg, cell)
    result = {
        "config": config_container(cfg),
        "config_hash": digest,
        "cell": {
            "model": cfg.model.name,
            "task": cfg.task.name,
            "method": cfg.method.name,
            "seed": int(cfg.seed),
        },
        "params": cell.params,
        "epochs": [],
        "best_epoch": None,
        "validation": {},
        "test": test,
        "evaluated_only": True,
        "adapter": adapter_record(cell, adapter),
        "wall_time_s": time.time() - start,
        "peak_memory_mb": peak_memory_mb(),
        "environment": environment(),
        "git_commit": git_commit(),
    }
    target = rundir.adapter_dir(run_dir)
    if target.resolve() != adapter.resolve():
        target.mkdir(parents=True, exist_ok=True)
        for name in (rundir.ADAPTER_CONFIG, rundir.ADAPTER_WEIGHTS):
            shutil.copyfile(adapter / name, target / name)
    write_predictions(run_dir, rows)
    rundir.write_result(run_dir, result)
    return result


def main(argv: list[str]) -> int:
    """Evaluate one adapter; print the run directory."""
    from lora_repro.train.cell import cell_config

    own, overrides = split_args(list(argv), {"adapter": None})
    flags = [a for a in overrides if a.startswith("-")]
    if flags:
        raise ValueError(f"unknown option(s) {flags}; allowed: adapter=<dir> and key=value overrides")
    if not own["adapter"]:
        raise ValueError(
            "give adapter=<dir> (an adapter directory: a cell's adapter/, or import-adapter's out=)"
        )
    adapter = Path(str(own["adapter"]))
    name, options = adapter_method(adapter)
    cfg = cell_config(cell_overrides(overrides, name, options))
    digest = eval_hash(cfg, adapter)
    run_dir = Path(cfg.run_dir) if cfg.get("run_dir") else Path(cfg.runs_root) / f"eval-{digest}"
    check = rundir.check_done(run_dir, digest)
    if check.ok:
        print(f"lora-repro eval: {run_dir} is DONE, skipping", file=sys.stderr)
    elif check.state == "foreign":
        raise ValueError(check.problem)
    else:
        result = evaluate(cfg, adapter, run_dir, digest, check)
        print(f"lora-repro eval: test {result['test']}", file=sys.stderr)
    print(run_dir)
    return 0
