"""The house rules that code review would otherwise have to catch: no import circle, short train/ functions."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "lora_repro"


def _modules() -> dict[str, Path]:
    mods = {}
    for f in PKG.rglob("*.py"):
        parts = list(f.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = f
    return mods


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports, at the top or inside a function (lazy imports count)."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and (node.module or "").startswith("lora_repro")
            ):
                deps.add(node.module)
                deps.update(
                    f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in mods
                )
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("lora_repro"))
        graph[name] = {d for d in deps if d in mods and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """lora_repro.<part> -> the other parts it imports (the package root itself left out)."""

    def part(m: str) -> str:
        return ".".join(m.split(".")[:2])

    out: dict[str, set[str]] = {}
    for m, deps in graph.items():
        for d in deps:
            if part(m) != part(d) and "." in part(m) and "." in part(d):
                out.setdefault(part(m), set()).add(part(d))
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_between_modules():
    assert cycles(import_graph()) == []


def test_no_import_circle_between_parts_of_the_package():
    """grid may import tables, train may import models; never both ways."""
    assert cycles(package_graph(import_graph())) == []


@pytest.mark.parametrize("name", sorted(n for n in _modules() if not n.endswith("__main__")))
def test_every_module_imports(name):
    importlib.import_module(name)


def test_no_function_in_train_is_longer_than_60_lines():
    long = []
    for f in sorted((PKG / "train").glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > 60:
                    long.append(f"{f.name}:{node.lineno} {node.name} ({n} lines)")
    assert long == []


def test_run_directory_names_agree_with_the_adapter_format():
    from lora_repro import rundir
    from lora_repro.methods.io import WEIGHTS_NAME

    assert rundir.ADAPTER_WEIGHTS == WEIGHTS_NAME


def test_no_private_name_is_imported_across_modules():
    bad = []
    for f in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lora_repro"):
                names = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                if names:
                    bad.append(f"{f.relative_to(PKG.parent)}: {node.module} {names}")
    assert bad == []


BASE = {"lora_repro.config", "lora_repro.atomic", "lora_repro.validate", "lora_repro.progress"}
ALLOWED = {  # docs/CONTRACTS.md "Who may import whom"
    "lora_repro.environment": set(),
    "lora_repro.rundir": set(),
    "lora_repro.models": set(),
    "lora_repro.methods": {"models"},
    "lora_repro.metrics": set(),
    "lora_repro.tiny": {"models"},
    "lora_repro.tasks": {"tiny", "metrics"},
    "lora_repro.analysis": {"methods", "models"},
    "lora_repro.train": {"models", "methods", "tasks", "tiny", "metrics", "rundir", "environment"},
    "lora_repro.tables": {"rundir", "environment"},
    "lora_repro.commands": {"models", "methods"},
    "lora_repro.grid": {
        "train",
        "tables",
        "tasks",
        "tiny",
        "commands",
        "cli",
        "rundir",
        "environment",
        "models",
    },
    "lora_repro.learnability": {"grid", "train", "tables", "tasks", "metrics"},
    "lora_repro.bench": {"models", "methods", "commands", "environment", "grid", "train", "tiny", "tables"},
    "lora_repro.figures": {"analysis", "grid", "tables", "models", "tiny", "rundir"},
}


def test_each_part_imports_only_what_the_contracts_allow():
    graph = package_graph(import_graph())
    extra = {}
    for part, deps in graph.items():
        allowed = BASE | {f"lora_repro.{a}" for a in ALLOWED.get(part, set())}
        if deps - allowed:
            extra[part] = sorted(deps - allowed)
    assert extra == {}


def test_scoring_never_imports_torch(tmp_path):
    """`lora-repro score` (and `import lora_repro`) run without torch being imported."""
    import subprocess
    import sys

    (tmp_path / "p.txt").write_text("1\n0\n1\n")
    (tmp_path / "r.txt").write_text("1\n0\n0\n")
    code = (
        "import sys, lora_repro; from lora_repro.cli import main\n"
        f"rc = main(['score', 'task=sst2', 'predictions={tmp_path / 'p.txt'}', 'references={tmp_path / 'r.txt'}'])\n"
        "print('RC', rc, 'TORCH', 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "RC 0 TORCH False" in out.stdout
    assert '"accuracy": 66.66' in out.stdout  # 2 of 3 right: the command really scored


HELP_COMMANDS = ["params", "data", "score", "pretrain", "train", "table", "learnability", "env"]


@pytest.mark.parametrize("command", [*HELP_COMMANDS, "import-adapter", "eval"])
def test_every_command_prints_its_usage_for_help(command, capsys):
    from lora_repro.cli import main

    if command == "env":  # argparse prints its help and exits 0 itself
        with pytest.raises(SystemExit) as stop:
            main([command, "--help"])
        assert stop.value.code == 0
    else:
        assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"lora-repro {command}" in out and "usage" in out and "Traceback" not in out
