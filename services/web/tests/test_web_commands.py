"""`manage.py sync_ibkr` and `manage.py scan` against the whole stack on tws-sim."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def web_state(stack):  # type: ignore[no-untyped-def]
    from wheeldesk_testing.web_state import WebState

    return WebState(stack)


def test_sync_ibkr_stores_account_positions_quotes_fundamentals_and_history(stack) -> None:  # type: ignore[no-untyped-def]
    out = stack.manage("sync_ibkr", "--symbols", "KO,ZZZZ", "--no-chains", check=False)
    assert out.returncode == 0, out.stderr
    assert "synced account DU7654321: 2 positions, 2 symbols" in out.stdout
    assert "skipped ZZZZ: " in out.stderr
    web = web_state(stack)
    s, a = web.stock("KO"), web.account_snapshot()
    assert s is not None
    values = [
        s["price"] > 0,
        s["market_data_type"],
        len(s["history"]) > 100,
        s["beta"] is not None,
        a["account_id"],
        sorted(p["symbol"] for p in a["positions"]) == ["AAPL", "KO"],
        web.stock("ZZZZ") is not None,
    ]
    assert values == [True, "live", True, True, "DU7654321", True, False]
    # positions synced: the bridge streams their symbols (and every watchlist ticker)
    assert {"AAPL", "KO"} <= set(stack.bridge_get("/v1/subscriptions")["symbols"])


def test_scan_command_stores_signals_and_why_not(stack) -> None:  # type: ignore[no-untyped-def]
    out = stack.manage("scan", "--symbols", "KO,JNJ,RIVN", check=False)
    assert out.returncode == 0, out.stderr
    assert "signals" in out.stdout and "rejected" in out.stdout
    r = web_state(stack).latest_scan(trigger="command")
    values = [
        r["status"],
        any(s["symbol"] != "RIVN" for s in r["signals"]),
        any(x["symbol"] == "RIVN" for x in r["rejections"]),
        any(s["symbol"] == "RIVN" for s in r["signals"]),
    ]
    assert values == ["done", True, True, False]
