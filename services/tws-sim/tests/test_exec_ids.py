"""Execution ids are never reused across restarts (issue 16 item 9).

The demo's tws-sim restarted against an existing database and handed out the exec ids of the
previous run (order and perm ids restart with the process), so the ledger took two new fills
for fills it had — and dropped them. Two engines with the same seed and the same orders stand
for a process and its restart.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tws_sim.engine import Engine
from tws_sim.settings import TwsSimSettings

START = datetime(2026, 6, 17, 14, 30, tzinfo=UTC)  # pinned, as the harness does


def book(engine: Engine) -> list[str]:
    ko = engine.market.by_symbol["KO"].contract
    ids = []
    for _ in range(3):
        ex = engine.record_execution(
            1, 1_000_007_000, 0, ko, "BOT", 1, 62.48, "", 1.0, None, 1, 62.48
        )
        ids.append(ex.exec_id)
    return ids


def test_a_restart_with_the_same_seed_never_repeats_an_exec_id():
    first = book(Engine(TwsSimSettings(seed=7, start=START)))
    again = book(Engine(TwsSimSettings(seed=7, start=START)))
    assert len(set(first)) == 3 and len(set(again)) == 3
    assert not set(first) & set(again)
    # still shaped like IB's ids: four dot-separated parts, the last the correction number
    assert all(len(i.split(".")) == 4 and i.endswith(".01") for i in first + again)
