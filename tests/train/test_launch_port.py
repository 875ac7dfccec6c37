"""`accelerate launch` of a multi-process cell on one machine asks for a free port (0), never 29500."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf

from lora_repro.train import cell


def launched(monkeypatch, tmp_path, **accelerate) -> list[str]:
    seen = []
    monkeypatch.setattr(
        subprocess, "run", lambda cmd, env=None: seen.append(cmd) or SimpleNamespace(returncode=0)
    )
    a = {"num_processes": 2, "config_file": None, "cpu": True, "main_process_port": None, **accelerate}
    cell.launch(OmegaConf.create({"accelerate": a}), tmp_path / "config.yaml")
    (cmd,) = seen
    return cmd


def port_of(cmd: list[str]) -> str | None:
    return cmd[cmd.index("--main_process_port") + 1] if "--main_process_port" in cmd else None


def test_two_processes_on_one_machine_get_a_free_port(monkeypatch, tmp_path):
    assert port_of(launched(monkeypatch, tmp_path)) == "0"


def test_one_process_and_an_explicit_port_are_left_alone(monkeypatch, tmp_path):
    assert port_of(launched(monkeypatch, tmp_path, num_processes=1)) is None
    assert port_of(launched(monkeypatch, tmp_path, main_process_port=29612)) == "29612"


@pytest.mark.parametrize(
    ("text", "port"),
    [
        ("num_machines: 1\n", "0"),  # the shipped single-node configs
        ("num_machines: 2\nmachine_rank: 0\n", None),  # every node must agree: accelerate's default
        ("num_machines: 1\nmain_process_port: 31000\n", None),  # the file's own port
    ],
)
def test_a_config_file_decides_for_multi_node(monkeypatch, tmp_path, text, port):
    conf = tmp_path / "accelerate.yaml"
    conf.write_text(text)
    assert port_of(launched(monkeypatch, tmp_path, config_file=str(conf))) == port
