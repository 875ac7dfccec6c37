"""``lora-repro <command> [key=value ...]``: one console script, one module per command.

Each command is ``main(argv: list[str]) -> int`` in its own module, imported only when called, so
``lora-repro params`` never imports the trainer.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "params": ("lora_repro.commands.params", "|Θ| of a model and method, or of every row of a paper table"),
    "data": ("lora_repro.tasks.cli", "print formatted examples of a task"),
    "score": ("lora_repro.metrics.cli", "score predictions against grouped references"),
    "pretrain": ("lora_repro.tiny.pretrain_cli", "pretrain a tiny-profile model"),
    "train": ("lora_repro.train.cli", "run one grid cell (model x task x method x seed)"),
    "table": ("lora_repro.grid.cli", "run and render a paper table"),
    "claims": ("lora_repro.grid.claims_cli", "judge the paper's claims on the reproduced tables"),
    "index": ("lora_repro.grid.index", "rewrite results/<profile>/README.md from what exists"),
    "learnability": ("lora_repro.learnability.cli", "can the tiny models learn each task? (bars per task)"),
    "figure": ("lora_repro.figures.cli", "run the cells of a Section 7 figure or Table 7, then draw it"),
    "bench": ("lora_repro.bench.cli", "efficiency, measured: Table 1, Figure 5, training cost, memory"),
    "env": ("lora_repro.environment", "the environment block every result.json records"),
    "import-adapter": ("lora_repro.commands.import_adapter", "a microsoft/LoRA checkpoint -> an adapter dir"),
    "eval": ("lora_repro.train.eval_cli", "evaluate an adapter on a task's test split, without training"),
}


def usage() -> str:
    lines = ["usage: lora-repro <command> [key=value ...]", "", "commands:"]
    lines += [f"  {name:<15} {doc}" for name, (_, doc) in COMMANDS.items()]
    return "\n".join(lines)


def command_help(name: str, module) -> str:
    """A command's usage: its module docstring (whose first line is the usage line), tidied for a terminal."""
    doc = (module.__doc__ or "").strip().replace("``", "`")
    return (
        f"lora-repro {name}: {COMMANDS[name][1]}\n\nusage: {doc}" if doc else f"usage: lora-repro {name} ..."
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"lora-repro: unknown command {name!r}; allowed: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    if {"-h", "--help"} & set(rest) and name != "env":  # env has its own argparse help
        print(command_help(name, module))
        return 0
    try:
        return int(module.main(rest) or 0)
    except (ValueError, FileNotFoundError, KeyError) as err:  # bad input: one clear line, non-zero exit
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"lora-repro {name}: error: {one_line(msg)}", file=sys.stderr)
        return 2
    except OSError as err:  # a file or directory that cannot be read or written: name it
        where = f": {err.filename}" if err.filename else ""
        print(f"lora-repro {name}: error: {err.strerror or one_line(err)}{where}", file=sys.stderr)
        return 2


def one_line(msg: object) -> str:
    """An error message on one line (a multi-line message's lines joined with ' / ')."""
    return " / ".join(line.strip() for line in str(msg).splitlines() if line.strip())


if __name__ == "__main__":
    sys.exit(main())
