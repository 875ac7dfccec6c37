"""Shared fixtures. Model builders live in tests/tiny_models.py (importable: tests/ is on pythonpath)."""

import pytest
from tiny_models import random_ids


@pytest.fixture
def input_ids():
    return random_ids()
