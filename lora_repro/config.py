"""Where the Hydra configs live and how commands compose them.

Commands take Hydra-style ``key=value`` overrides. Keys a command owns itself (``split=test``,
``n=3``) are split off first; the rest go to Hydra's compose API, so ``--cfg job`` and
every override work as in a Hydra app.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "configs"


def config_dir() -> Path:
    if not CONFIG_DIR.is_dir():
        raise FileNotFoundError(
            f"config directory {CONFIG_DIR} not found: install lora-repro from a checkout with 'pip install -e .'"
        )
    return CONFIG_DIR


def group_options(group: str) -> list[str]:
    """Names of the config files in ``configs/<group>/`` (without .yaml)."""
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


def load_group_file(group: str, name: str) -> dict[str, Any]:
    """One config file as a plain dict, with a clear error naming the allowed options."""
    path = config_dir() / group / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown {group} {name!r}; allowed: {group_options(group)}")
    return yaml.safe_load(path.read_text()) or {}


def split_args(argv: list[str], own: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Separate the command's own ``key=value`` arguments (with defaults) from Hydra overrides."""
    values = dict(own)
    overrides: list[str] = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and key in own:
            values[key] = yaml.safe_load(value) if value else value
        else:
            overrides.append(arg)
    return values, overrides


def compose(overrides: list[str], config_name: str = "config") -> DictConfig:
    """Compose ``configs/<config_name>.yaml`` with Hydra overrides, outside any Hydra app."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(overrides))


DIRTY = " (+ uncommitted changes)"


def git_commit(root: Path = REPO_ROOT, short: bool = True) -> str:
    """HEAD commit (12 digits, or all 40), noting uncommitted changes to code or configs; ``unknown`` outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", *(["--short=12"] if short else []), "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
        )
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "lora_repro", "configs"],
            cwd=root,
            capture_output=True,
            text=True,
        )
        return head.stdout.strip() + (DIRTY if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"
