"""Every scan covers what the account holds, whatever the watchlist says.

The screener only matches positions against the symbols it is asked about: without the held
symbols a covered call on held stock or a roll of a held short option is never found unless
the symbol happens to be on the watchlist.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from web_factories import option_position, stock_position
from wheeldesk_web.signals.models import ScanRun
from wheeldesk_web.signals.services import NOTHING_TO_SCAN, ScanError, held_symbols, with_held

BOOK = [
    stock_position("KO", 200),
    option_position("KO", -1, right="C", strike=65.0),  # a covered call on it
    option_position("aapl", -2, right="P", strike=200.0),
    stock_position("MSFT", 50),  # too few shares for a covered call
    option_position("T", 1, right="C", strike=30.0),  # long: nothing to manage
]


def test_held_symbols_are_stock_lots_and_short_options_once_each() -> None:
    assert held_symbols(BOOK) == ["KO", "AAPL"]


@pytest.mark.django_db
def test_held_symbols_not_on_the_watchlist_are_added_and_recorded() -> None:
    run = ScanRun.objects.create(symbols=["KO", "JNJ"])
    assert with_held(run, BOOK) == ["KO", "JNJ", "AAPL"]
    run.refresh_from_db()
    assert run.symbols == ["KO", "JNJ", "AAPL"] and run.held_symbols == ["AAPL"]
    # an empty watchlist still scans the positions; with nothing held either, it says so
    assert with_held(ScanRun.objects.create(symbols=[]), BOOK) == ["KO", "AAPL"]
    with pytest.raises(ScanError, match="^" + NOTHING_TO_SCAN):
        with_held(ScanRun.objects.create(symbols=[]), [])


@pytest.mark.django_db
def test_signals_page_says_which_symbols_were_added_because_held(client) -> None:
    user = get_user_model().objects.create_user("held", "h@example.com", "s3cret-pass-123")
    client.force_login(user)
    ScanRun.objects.create(
        user=user, status=ScanRun.DONE, symbols=["JNJ", "KO", "AAPL"], held_symbols=["KO", "AAPL"]
    )
    body = client.get("/signals/").content.decode()
    assert "3 symbols" in body
    assert "Also scanned because the account holds them" in body
    assert "not on your watchlist: <strong>KO, AAPL</strong>" in body


@pytest.mark.slow
def test_scan_command_covers_the_demo_positions_off_the_watchlist(stack) -> None:  # type: ignore[no-untyped-def]
    """tws-sim's book: 200 KO and one short AAPL put; the scan is asked for JNJ only."""
    out = stack.manage("scan", "--symbols", "JNJ", check=False)
    assert out.returncode == 0, out.stderr
    assert "over 3 symbols (held, not on the watchlist: " in out.stdout
    from wheeldesk_testing.web_state import WebState

    scan = WebState(stack).latest_scan(trigger="command")
    signals, rejections = scan["signals"], scan["rejections"]
    cc = len([s for s in signals if (s["symbol"], s["kind"]) == ("KO", "CC")]) + len(
        [r for r in rejections if r["symbol"] == "KO" and r["message"].startswith("CC: ")]
    )
    held = [
        r
        for r in rejections
        if (r["symbol"], r["rule"]) == ("AAPL", "hold") and r["message"].startswith("held AAPL ")
    ]
    aapl = len([s for s in signals if s["symbol"] == "AAPL" and s["kind"] in ("ROLL", "CLOSE")])
    aapl += len(held)
    assert scan["symbols"][0] == "JNJ"
    assert sorted(scan["symbols"]) == ["AAPL", "JNJ", "KO"]
    assert (",".join(sorted(scan["held_symbols"])), cc > 0, aapl > 0) == ("AAPL,KO", True, True)
