"""``lora-repro train model=<m> task=<t> method=<x> seed=<s> [profile=...] [key=value ...]``.

Hydra overrides compose the cell (configs/config.yaml); ``--cfg job`` prints the resolved config and
exits; ``-m``/``--multirun`` with comma-separated values runs every combination, one cell after
another (each skipped when already DONE). Prints the run directory of each cell.
"""

from __future__ import annotations

import itertools
import sys

from omegaconf import OmegaConf


def _expand(overrides: list[str]) -> list[list[str]]:
    """Hydra-style sweep: ``a=1,2 b=x,y`` -> every combination (values with brackets are kept whole)."""
    choices = []
    for ov in overrides:
        key, sep, value = ov.partition("=")
        if sep and "," in value and not value.startswith(("[", "{", "'", '"')):
            choices.append([f"{key}={v}" for v in value.split(",")])
        else:
            choices.append([ov])
    return [list(c) for c in itertools.product(*choices)]


def main(argv: list[str]) -> int:
    """Run (or print the config of) one cell or a sweep of cells."""
    from lora_repro.train.cell import cell_config, run_cell
    from lora_repro.train.setup import TrainingDiverged

    args = list(argv)
    show = None
    if "--cfg" in args:
        i = args.index("--cfg")
        show = args[i + 1] if i + 1 < len(args) else "job"
        del args[i : i + 2]
    multirun = False
    for flag in ("-m", "--multirun"):
        if flag in args:
            args.remove(flag)
            multirun = True
    unknown = [a for a in args if a.startswith("-")]
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown}; allowed: --cfg job, -m/--multirun, key=value overrides"
        )
    sweeps = _expand(args) if multirun else [args]
    for overrides in sweeps:
        cfg = cell_config(overrides)
        if show is not None:
            if show not in ("job", "all"):
                raise ValueError(f"--cfg {show!r}; allowed: job, all")
            print(OmegaConf.to_yaml(cfg))
            continue
        try:
            run_dir = run_cell(cfg)
        except TrainingDiverged as err:
            print(f"lora-repro train: error: {err}", file=sys.stderr)
            return 1
        print(run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
