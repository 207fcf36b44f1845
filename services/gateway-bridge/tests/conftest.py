"""Bridge test fixtures; helpers live in bridge_helpers (importable thanks to the path below)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from wheeldesk_testing.procs import Proc, service_proc, tws_sim_proc

sys.path.insert(0, str(Path(__file__).parent))

from bridge_helpers import bridge_env


@pytest.fixture(scope="module")
def shared_bridge(tws_sim: Proc, nats_server: Proc) -> Iterator[Proc]:
    """One bridge for read-only tests against the session's tws-sim."""
    yield from _bridge_on(tws_sim, nats_server)


@pytest.fixture(scope="module")
def sim() -> Iterator[Proc]:
    """A tws-sim of the module's own, for tests that change its state (scanner slots, caches)."""
    proc = tws_sim_proc(seed=7).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def bridge(sim: Proc, nats_server: Proc) -> Iterator[Proc]:
    """A bridge on the module's own tws-sim (`sim`)."""
    yield from _bridge_on(sim, nats_server)


def _bridge_on(sim: Proc, nats_server: Proc) -> Iterator[Proc]:
    proc = service_proc(
        "gateway-bridge",
        bridge_env(sim, nats_server.url, IB_SIMULATED="true"),  # type: ignore[attr-defined]
    )
    proc.start(timeout=90)
    yield proc
    proc.stop()
