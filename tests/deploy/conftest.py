"""Deploy test fixtures; helpers live in deploy_helpers (importable thanks to the path below)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from deploy_helpers import compose_model


@pytest.fixture(scope="session")
def compose_all() -> dict:
    """The compose model with every profile enabled (demo and ib-gateway)."""
    return compose_model("demo", "ib-gateway")
