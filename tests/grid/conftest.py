"""Shared pieces of the grid tests: the fake cell command and an override-hash resolver (fixture ``fk``)."""

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from lora_repro.grid.cells import overrides_hash

HERE = Path(__file__).resolve().parent
FAKE = HERE / "fake_cell.py"
SMALL = HERE / "specs" / "small.yaml"
OTHER = HERE / "specs" / "other.yaml"


def resolver(overrides):
    return overrides_hash(overrides), {}


def fake_command(cell):
    return [sys.executable, str(FAKE), *cell.overrides]


def fake_env(monkeypatch, tmp_path, sleep=0.0, fail=""):
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("FAKE_CALLS", str(calls))
    monkeypatch.setenv("FAKE_SLEEP", str(sleep))
    monkeypatch.setenv("FAKE_FAIL", fail)
    monkeypatch.chdir(tmp_path)
    return calls


def read_calls(calls: Path) -> list[list[str]]:
    return [line.split() for line in calls.read_text().splitlines()] if calls.exists() else []


def argv(spec: Path, tmp_path: Path, *extra: str) -> list[str]:
    return [str(spec), f"runs={tmp_path / 'runs'}", f"out={tmp_path / 'results'}", "progress=false", *extra]


@pytest.fixture
def fk():
    """The fake-cell helpers as one namespace."""
    return SimpleNamespace(
        FAKE=FAKE,
        SMALL=SMALL,
        OTHER=OTHER,
        resolver=resolver,
        fake_command=fake_command,
        fake_env=fake_env,
        read_calls=read_calls,
        argv=argv,
    )
