"""Fixtures of the whole-system suite."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def fault_stack():  # type: ignore[no-untyped-def]
    """A stack of its own for tests that fuzz, stop or slow its services.

    The session `stack` is shared with the web's browser tests in a `make test` run; fuzzing its
    APIs (orders, subscriptions) or restarting its bridge could change what they see.
    """
    from wheeldesk_testing.stack import Stack

    started = Stack.start()
    yield started
    started.stop()
