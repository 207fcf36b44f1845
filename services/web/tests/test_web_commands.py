"""`manage.py sync_ibkr` and `manage.py scan` against the whole stack on tws-sim."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def shell(stack, code: str) -> list[str]:  # type: ignore[no-untyped-def]
    return stack.manage("shell", "-c", code).stdout.strip().splitlines()[-1].split()


def test_sync_ibkr_stores_account_positions_quotes_fundamentals_and_history(stack) -> None:  # type: ignore[no-untyped-def]
    out = stack.manage("sync_ibkr", "--symbols", "KO,ZZZZ", "--no-chains", check=False)
    assert out.returncode == 0, out.stderr
    assert "synced account DU7654321: 2 positions, 2 symbols" in out.stdout
    assert "skipped ZZZZ: " in out.stderr
    values = shell(
        stack,
        "from wheeldesk_web.market.models import Stock, AccountSnapshot;"
        "s = Stock.objects.get(symbol='KO'); a = AccountSnapshot.objects.get();"
        "print(s.price > 0, s.market_data_type, len(s.history) > 100, s.beta is not None,"
        " a.account_id, sorted(p['symbol'] for p in a.positions) == ['AAPL', 'KO'],"
        " Stock.objects.filter(symbol='ZZZZ').exists())",
    )
    assert values == ["True", "live", "True", "True", "DU7654321", "True", "False"]
    # positions synced: the bridge streams their symbols (and every watchlist ticker)
    assert {"AAPL", "KO"} <= set(stack.bridge_get("/v1/subscriptions")["symbols"])


def test_scan_command_stores_signals_and_why_not(stack) -> None:  # type: ignore[no-untyped-def]
    out = stack.manage("scan", "--symbols", "KO,JNJ,RIVN", check=False)
    assert out.returncode == 0, out.stderr
    assert "signals" in out.stdout and "rejected" in out.stdout
    values = shell(
        stack,
        "from wheeldesk_web.signals.models import ScanRun;"
        "r = ScanRun.objects.filter(trigger='command').latest('started');"
        "print(r.status, r.signals.exclude(symbol='RIVN').exists(),"
        " r.rejections.filter(symbol='RIVN').exists(), r.signals.filter(symbol='RIVN').exists())",
    )
    assert values == ["done", "True", "True", "False"]
