"""Pytest plugin (loaded with `-p wheeldesk.testing.fixtures`): real components on free ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from wheeldesk.testing.procs import TEST_TOKEN, Proc, nats_proc, service_proc, tws_sim_proc


@pytest.fixture(scope="session")
def internal_token() -> str:
    return TEST_TOKEN


@pytest.fixture(scope="session")
def nats_server() -> Iterator[Proc]:
    """One real nats-server (JetStream on) for the session. Tests isolate by subject/stream."""
    proc = nats_proc().start()
    proc.url = f"nats://127.0.0.1:{proc.port}"  # type: ignore[attr-defined]
    yield proc
    proc.stop()


@pytest.fixture
def fresh_nats() -> Iterator[Proc]:
    """A nats-server of this test's own, for tests that kill or restart it."""
    proc = nats_proc().start()
    proc.url = f"nats://127.0.0.1:{proc.port}"  # type: ignore[attr-defined]
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def tws_sim() -> Iterator[Proc]:
    """One shared tws-sim (seed 7). Tests that inject faults should use `tws_sim_factory`."""
    proc = tws_sim_proc().start()
    yield proc
    proc.stop()


@pytest.fixture
def tws_sim_factory() -> Iterator[Callable[..., Proc]]:
    started: list[Proc] = []

    def make(**kwargs: object) -> Proc:
        proc = tws_sim_proc(**kwargs).start()  # type: ignore[arg-type]
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


@pytest.fixture
def service_factory() -> Iterator[Callable[..., Proc]]:
    """Start a service (`gateway-bridge`, `screener`, `notifier`, `web`) as a real process."""
    started: list[Proc] = []

    def make(service: str, env: dict[str, str] | None = None, **kwargs: object) -> Proc:
        proc = service_proc(service, env or {}, **kwargs)  # type: ignore[arg-type]
        started.append(proc)
        return proc.start(timeout=90)

    yield make
    for proc in reversed(started):
        proc.stop()
