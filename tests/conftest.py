"""Shared fixtures. Model builders live in tests/tiny_models.py (importable: tests/ is on pythonpath)."""

import os

import pytest
from tiny_models import random_ids


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """A temporary LORA_REPRO_CACHE for the session (tiny tokenizer, data, pretrained models), so no
    test writes under $HOME; the variable is restored at the end."""
    path = tmp_path_factory.mktemp("lora_repro_cache")
    old = os.environ.get("LORA_REPRO_CACHE")
    os.environ["LORA_REPRO_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("LORA_REPRO_CACHE", None)
    else:
        os.environ["LORA_REPRO_CACHE"] = old


@pytest.fixture
def input_ids():
    return random_ids()
