"""A grid cell: compose its config, name its run directory by a hash, run it once.

``cell_config(overrides)`` composes ``configs/config.yaml`` with Hydra and then applies, in order,
the per-cell hyperparameter file's chosen ``hparams.variant`` blocks, the profile's ``scale`` block
and finally the command-line overrides again (so an explicit ``train.lr=...`` always wins).
``cell_hash(cfg)`` hashes the resolved config without the keys that do not change results.
``run_cell(cfg)`` skips a cell whose ``DONE`` exists, else trains it in this process or, with
``accelerate.num_processes > 1`` or an ``accelerate.config_file``, under ``accelerate launch`` with
``python -m lora_repro.train.cell <run_dir>/config.yaml`` on every rank (``main``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from lora_repro import rundir
from lora_repro.atomic import write_atomic
from lora_repro.config import config_dir, load_group_file
from lora_repro.train.fewshot import likelihood_scored
from lora_repro.validate import check_cell, compose_checked

GROUPS = ("model", "task", "method", "profile", "logger", "hparams")
# keys that select where or how a cell runs, not what it computes
HASH_EXCLUDE = (
    "run_dir",
    "runs_root",
    "logger",
    "accelerate",
    "checkpoint",
    "profile.cache_dir",
    "train.num_threads",
    # which hparams variant was asked for is bookkeeping: its effect is in the resolved train/method
    # values, so a variant that resolves to the same run (the LoRA-dagger row on MNLI, SST-2 and CoLA,
    # as in the paper) shares the cell
    "hparams",
)
INIT_CHOICES = ("pretrained", "mnli")


def _override_key(override: str) -> str | None:
    """The config key a ``key=value`` override sets (None for group choices and deletions)."""
    key, sep, _ = override.partition("=")
    key = key.lstrip("+")
    if not sep or key.startswith("~") or key in GROUPS or key.startswith("hydra"):
        return None
    return key.split("@")[0]


def _variants(cfg: DictConfig) -> list[str]:
    v = cfg.hparams.get("variant", "paper")
    names = [v] if isinstance(v, str) else list(v)
    return [str(n) for n in names]


def cell_config(overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """The resolved config of a cell (composed, variants and profile scale applied, validated)."""
    overrides = list(overrides)
    # an unknown group option or key: one clear line listing the allowed ones, not a traceback
    composed = compose_checked(overrides, "config", groups=GROUPS[:-1])
    cfg = OmegaConf.create(OmegaConf.to_container(composed, resolve=False))
    for name in _variants(cfg):
        if name == "paper":
            continue
        block = (cfg.hparams.get("variants") or {}).get(name)
        if block is None:
            if name == "reference":
                continue  # paper and reference code agree on this cell
            raise ValueError(
                f"hparams.variant={name!r} is not defined for {cfg.model.name}/{cfg.task.name}/{cfg.method.name}; "
                f"allowed: ['paper', 'reference', *{sorted(cfg.hparams.get('variants') or {})}]"
            )
        cfg = OmegaConf.merge(cfg, block)
    scale = cfg.profile.get("scale") or {}
    cfg = OmegaConf.merge(cfg, scale)
    # then the profile's block for this method (the tiny profile raises PreLayer's learning rate)
    by_method = (cfg.profile.get("scale_by_method") or {}).get(cfg.method.name)
    if by_method:
        cfg = OmegaConf.merge(cfg, by_method)
    for ov in overrides:
        key = _override_key(ov)
        if key is not None:
            OmegaConf.update(cfg, key, OmegaConf.select(composed, key), merge=False, force_add=True)
    OmegaConf.resolve(cfg)
    _validate(cfg)
    return cfg


def _validate(cfg: DictConfig) -> None:
    """Every option's type and range (lora_repro.validate), before anything is built or written."""
    if cfg.init_from not in INIT_CHOICES:
        raise ValueError(f"init_from={cfg.init_from!r}; allowed: {list(INIT_CHOICES)}")
    if cfg.profile.name not in ("tiny", "paper"):
        raise ValueError(f"profile={cfg.profile.name!r}; allowed: tiny, paper")
    # train.epochs=0: no training step, only the test evaluation (the untrained model of learnability)
    tree = OmegaConf.to_container(cfg, resolve=True)
    defaults = yaml.safe_load((config_dir() / "config.yaml").read_text())
    check_cell(tree, defaults, load_group_file("method", str(cfg.method.name)))


@functools.cache
def _tiny_identity(model_json: str) -> dict[str, str]:
    """What a tiny cell's config does not show: which pretrained tiny model and which data generators.

    The tiny model's cache name hashes its recipe, ``PRETRAIN_VERSION`` and the tokenizer key (itself
    a hash of the whole corpus); ``generator_version`` hashes the synthetic generators' source. With
    both in the cell hash, a change to the corpus, the pretraining or the tiny data gives new cells
    instead of letting a grid skip cells trained on the old models or data.
    """
    from lora_repro.tasks.sources import generator_version
    from lora_repro.tiny.pretrain import tiny_model_dir

    return {"model": tiny_model_dir(json.loads(model_json), cache_dir=".").name, "data": generator_version()}


def _hashable(cfg: DictConfig) -> dict[str, Any]:
    data = OmegaConf.to_container(cfg, resolve=True)
    if data.get("profile", {}).get("name") == "tiny" and not (data.get("model") or {}).get("path"):
        data["tiny_identity"] = dict(_tiny_identity(json.dumps(data["model"], sort_keys=True)))
    if (data.get("train") or {}).get("max_steps", 0) is None:  # unset: the hashes of cells before the key
        data["train"].pop("max_steps")
    task = data.get("task") or {}
    if "text_format" in task:  # unset or the profile's default: the hashes of cells before the key
        from lora_repro.tasks.reference_format import PROFILE_DEFAULT

        profile = (data.get("profile") or {}).get("name", "tiny")
        if task["text_format"] is None or task["text_format"] == PROFILE_DEFAULT.get(profile, "hub"):
            task.pop("text_format")
    model = data.get("model") or {}
    for key in ("stand_ins", "stand_in_configs"):  # reference tables: a chosen stand-in is in model.stand_in
        model.pop(key, None)
    if model.get("stand_in") is None or data.get("profile", {}).get("name") == "tiny":  # no stand-in runs
        model.pop("stand_in", None)
        model.pop("stand_in_revision", None)
    if not likelihood_scored(data):  # eval.decoder_labels has no effect here, or keeps the old scoring
        (data.get("eval") or {}).pop("decoder_labels", None)
    for key in HASH_EXCLUDE:
        parent, _, leaf = key.rpartition(".")
        node = data
        for part in parent.split(".") if parent else []:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(leaf, None)
    return data


def cell_hash(cfg: DictConfig) -> str:
    """12 hex digits identifying what the cell computes (where and how it runs left out)."""
    blob = json.dumps(_hashable(cfg), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def cell_run_dir(cfg: DictConfig) -> Path:
    """``run_dir`` if given, else ``<runs_root>/<cell hash>``."""
    return Path(cfg.run_dir) if cfg.get("run_dir") else Path(cfg.runs_root) / cell_hash(cfg)


def upstream_overrides(cfg: DictConfig) -> list[str]:
    """Overrides of the MNLI cell a MRPC/RTE/STS-B cell starts from (same model, method, seed, profile)."""
    variants = _variants(cfg)
    return [
        f"model={cfg.model.name}",
        "task=mnli",
        f"method={cfg.method.name}",
        f"profile={cfg.profile.name}",
        f"seed={cfg.seed}",
        f"hparams.variant={variants[0] if len(variants) == 1 else variants}",
        f"runs_root={cfg.runs_root}",
        *list(cfg.get("init_overrides") or []),
    ]


def init_adapter_dir(cfg: DictConfig) -> Path | None:
    """The adapter directory a cell starts from (``init_from=mnli``), or None (pretrained model)."""
    if cfg.init_from == "pretrained" and not cfg.get("init_path"):
        return None
    if cfg.get("init_path"):
        p = Path(cfg.init_path)
        p = p / "adapter" if (p / "adapter").is_dir() else p
    else:
        up = cell_config(upstream_overrides(cfg))
        run_dir = cell_run_dir(up)
        check = rundir.check_done(run_dir, cell_hash(up))
        if not check.ok:
            cmd = "lora-repro train " + " ".join(upstream_overrides(cfg))
            why = "has not finished" if check.state == "missing" else f"cannot be trusted ({check.problem})"
            raise FileNotFoundError(f"init_from=mnli: the MNLI cell {run_dir} {why}; run it first: {cmd}")
        p = rundir.adapter_dir(run_dir)
    if not rundir.has_adapter(p):
        raise FileNotFoundError(f"no {rundir.ADAPTER_WEIGHTS} in {p} (init_from={cfg.init_from})")
    return p


def prepare_run_dir(run_dir: Path) -> None:
    """Create ``run_dir``, or say in one line why it cannot be (a regular file, not writable)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(
            f"run_dir={run_dir} is a file, not a directory: give run_dir= a directory (or leave it out)"
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(
            f"cannot create run_dir={run_dir} ({err.strerror}: {err.filename}): choose another run_dir= "
            "or fix the permissions of its parent"
        ) from err
    if not os.access(run_dir, os.W_OK | os.X_OK):
        raise ValueError(f"run_dir={run_dir} is not writable: fix its permissions or choose another run_dir=")


def _foreign_unfinished(run_dir: Path, digest: str) -> str | None:
    """The hash of another cell whose checkpoints ``run_dir`` holds (a resume would load them), or None."""
    config_file = run_dir / rundir.CONFIG
    ckpts = rundir.checkpoints_dir(run_dir)
    if not config_file.is_file() or not ckpts.is_dir() or not any(ckpts.iterdir()):
        return None
    try:
        theirs = cell_hash(OmegaConf.load(config_file))
    except Exception:  # noqa: BLE001 - an unreadable config.yaml is rewritten below
        return None
    return theirs if theirs != digest else None


def run_cell(cfg: DictConfig) -> Path:
    """Run one cell unless it is finished (:func:`lora_repro.rundir.check_done`); returns its run directory.

    A finished cell whose files do not check out has them moved to ``<run_dir>/damaged-<time>/`` and
    is trained again; a run directory that holds another cell is refused (one line naming the file)."""
    run_dir = cell_run_dir(cfg)
    digest = cell_hash(cfg)
    check = rundir.check_done(run_dir, digest)
    if check.ok:
        print(f"lora-repro train: {run_dir} is DONE, skipping", file=sys.stderr)
        return run_dir
    if check.state == "foreign":
        raise ValueError(check.problem)
    theirs = _foreign_unfinished(run_dir, digest)
    if theirs is not None:
        raise ValueError(
            f"{run_dir / rundir.CONFIG} is the unfinished cell {theirs}, not the asked-for cell {digest}: "
            f"run_dir={run_dir} is another cell's; choose another run_dir (or leave it out)"
        )
    init_dir = init_adapter_dir(cfg)
    prepare_run_dir(run_dir)
    if check.state == "damaged":
        aside = rundir.move_aside(run_dir)
        print(
            f"lora-repro train: {check.problem}; moved the run's files to {aside}, training the cell again",
            file=sys.stderr,
        )
    config_file = run_dir / rundir.CONFIG
    write_atomic(config_file, OmegaConf.to_yaml(cfg))
    nproc = int(cfg.accelerate.num_processes)
    if nproc > 1 or cfg.accelerate.config_file:
        launch(cfg, config_file)
    else:
        from lora_repro.train.worker import run

        run(cfg, run_dir, init_dir, digest)
    return run_dir


def _single_machine(cmd: list[str]) -> bool:
    """True unless the accelerate config file of ``cmd`` asks for several machines or names a port
    (multi-node launches need the same fixed port on every node: the config file's, or 29500)."""
    if "--config_file" not in cmd:
        return True
    data = yaml.safe_load(Path(cmd[cmd.index("--config_file") + 1]).read_text()) or {}
    return int(data.get("num_machines") or 1) == 1 and data.get("main_process_port") is None


def launch(cfg: DictConfig, config_file: Path) -> None:
    """``accelerate launch`` the worker on the resolved config; raise if it fails."""
    a = cfg.accelerate
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if a.config_file:
        path = Path(a.config_file)
        if not path.is_file() and (config_dir().parent / path).is_file():
            path = config_dir().parent / path
        cmd += ["--config_file", str(path)]
    nproc = int(a.num_processes)
    cmd += ["--num_processes", str(nproc)]
    if nproc > 1 and not a.config_file:
        # torchrun-style launcher; on CPU the worker's Accelerator(cpu=True) makes it gloo DDP
        # (accelerate's --cpu flag alone starts a single process unless mpirun is configured)
        cmd += ["--multi_gpu"]
    elif a.cpu and nproc == 1:
        cmd += ["--cpu"]
    port = a.get("main_process_port")
    if port is None and nproc > 1 and _single_machine(cmd):
        port = 0  # accelerate picks a free port: two launches at once (jobs=2, tests) never collide on 29500
    if port is not None:
        cmd += ["--main_process_port", str(port)]
    cmd += ["-m", "lora_repro.train.cell", str(config_file)]
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 2) // max(1, int(a.num_processes)))))
    proc = subprocess.run(cmd, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"accelerate launch failed with exit code {proc.returncode}: {' '.join(cmd)}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of each rank under ``accelerate launch``: run the cell of a written config.yaml."""
    from lora_repro.train.worker import run

    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1:
        print("usage: python -m lora_repro.train.cell <run_dir>/config.yaml", file=sys.stderr)
        return 2
    path = Path(argv[0])
    cfg = OmegaConf.load(path)
    run(cfg, path.parent, init_adapter_dir(cfg), cell_hash(cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
