"""Shared-package test setup: this directory on the path for its helper modules
(`client_endpoints`, the endpoint table test_clients.py runs through both clients)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
