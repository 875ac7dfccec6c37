"""Configs, docs, code and the README name no path of any machine and no file outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lora_repro.config import REPO_ROOT

# an absolute home or workspace path, or a link to the notes kept beside (not inside) the repository
FORBIDDEN = re.compile(r"/work/|/home/\w|/Users/\w|\.\./shared|\bshared/(paper|DATASETS|METRICS)|TABLES\.md")
ROOTS = ("configs", "docs", "lora_repro", "README.md")
SUFFIXES = {".py", ".yaml", ".yml", ".md", ".txt", ".toml", ".cfg", ".json"}


def scanned_files(root: Path = REPO_ROOT) -> list[Path]:
    """Every text file under the scanned roots."""
    out: list[Path] = []
    for name in ROOTS:
        path = root / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        out += [p for p in files if p.suffix in SUFFIXES and "__pycache__" not in p.parts]
    return sorted(out)


def offending_lines(files: list[Path]) -> list[str]:
    """``path:line: text`` for each line with a forbidden path."""
    hits = []
    for path in files:
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if FORBIDDEN.search(line):
                hits.append(
                    f"{path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}:{n}: {line.strip()}"
                )
    return hits


def test_no_config_doc_or_module_names_a_machine_path():
    files = scanned_files()
    assert len(files) > 100  # the scan really covers the tree
    assert offending_lines(files) == []


@pytest.mark.parametrize(
    "text", ["# see /work/shared/paper/TABLES.md", "[notes](../shared/DATASETS.md)", "cache: /home/alice/x"]
)
def test_the_check_catches_such_a_path(tmp_path, text):
    bad = tmp_path / "table99.yaml"
    bad.write_text(f"table: 99\n{text}\n")
    assert len(offending_lines([bad])) == 1
