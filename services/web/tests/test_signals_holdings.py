"""Signals that follow their orders, and the cash-secured capacity, through the web.

Against the in-process stand-in of the bridge API (conftest.FakeBridge: the bridge's
contract, dedup and order list) so these pin the web's own guarantees: a signal's status
moves with the order drafted from it (ordered → filled / cancelled) through the one merge
every order writer goes through, and the capacity (cash − puts short − sell puts working)
is the number the dashboard shows, the scan sends and the collateral check compares with.
The same stand-in's numbers are worked by hand in each test.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.urls import reverse
from web_factories import EXPIRY, option_fill, option_position, stock_position  # 30 DTE
from wheeldesk.schemas.account import Position
from wheeldesk.schemas.orders import Order, OrderRequest, OrderStatus
from wheeldesk.schemas.screener import ScanResult
from wheeldesk_testing.moments import SIM_START
from wheeldesk_web.orders.models import Order as WebOrder
from wheeldesk_web.orders.services import refresh
from wheeldesk_web.signals import capacity
from wheeldesk_web.signals import services as signal_services
from wheeldesk_web.signals.models import ScanRun, Signal

pytestmark = pytest.mark.django_db


@pytest.fixture
def user_client(client):
    user = get_user_model().objects.create_user("trader", "t@example.com", "pw-123456-xyz")
    user.user_permissions.add(Permission.objects.get(codename="trade"))
    client.force_login(user)
    client.user = user
    return client


def _signal(user, kind: str = "CSP", strike: float = 60.0, quantity: int = 1) -> Signal:  # type: ignore[no-untyped-def]
    scan = ScanRun.objects.create(user=user, status=ScanRun.DONE, symbols=["KO"])
    return Signal.objects.create(
        scan=scan,
        kind=kind,
        symbol="KO",
        expiry=EXPIRY,
        strike=strike,
        right="C" if kind == "CC" else "P",
        premium=1.10,
        collateral=strike * 100,
        quantity=quantity,
        distance_pct=5.0,
        dte=30,
        underlying_price=64.0,
        score=72.0,
        tier="A",
        status=Signal.SEEN,
    )


def _order_from(client, s: Signal) -> str:  # type: ignore[no-untyped-def]
    """Order from the signal (the signals page's "Order" link), then confirm it as previewed."""
    r = client.post(reverse("orders:new"), {"signal": s.pk})
    assert r.status_code == 302, r.content[:300]
    coid = r["Location"].rstrip("/").split("/")[-1]
    page = client.get(reverse("orders:detail", args=[coid])).content.decode()
    ticket = re.search(r'name="ticket" value="([0-9a-f]*)"', page)
    assert ticket, page[:500]
    assert client.post(reverse("orders:confirm", args=[coid]), {"ticket": ticket.group(1)})
    return coid


def _status_on_page(client, s: Signal) -> str:  # type: ignore[no-untyped-def]
    body = client.get(reverse("signals:list")).content.decode()
    row = re.search(rf'data-signal="{s.pk}".*?data-cell="status"[^>]*>([^<]*)<', body, re.S)
    assert row, body[:800]
    return row.group(1).strip()


def test_a_signal_follows_its_order_to_filled(user_client, bridge) -> None:
    s = _signal(user_client.user)
    coid = _order_from(user_client, s)
    s.refresh_from_db()
    assert s.status == "ordered"  # IB answered "submitted"
    assert WebOrder.objects.get(client_order_id=coid).signal_id == s.pk
    bridge.fill(coid, 1.12)
    refresh(WebOrder.objects.get(client_order_id=coid), bridge)  # the worker's sync pass
    s.refresh_from_db()
    assert s.status == "filled"
    assert _status_on_page(user_client, s) == "filled"


def test_a_cancelled_order_cancels_its_signal(user_client, bridge) -> None:
    s = _signal(user_client.user)
    coid = _order_from(user_client, s)
    r = user_client.post(reverse("orders:cancel", args=[coid]))
    assert r.status_code in (200, 302)
    s.refresh_from_db()
    assert s.status == "cancelled"
    assert _status_on_page(user_client, s) == "order cancelled"


def test_a_covered_call_signal_drafts_its_contracts(user_client, bridge) -> None:
    # 200 KO held, no call short: the screener's CC is for 2 contracts; the draft says 2
    s = _signal(user_client.user, kind="CC", strike=66.0, quantity=2)
    r = user_client.post(reverse("orders:new"), {"signal": s.pk})
    coid = r["Location"].rstrip("/").split("/")[-1]
    order = WebOrder.objects.get(client_order_id=coid)
    assert (order.action, order.right, order.quantity) == ("SELL", "C", 2)


class Book:
    """The account of the capacity tests, each number chosen to be added up by hand."""

    # cash 200,000 (FakeBridge.account)
    # short 2 AAPL 200 puts:               2 x 200 x 100 =  40,000
    # a Wheeldesk sell-put order working:  1 x  60 x 100 =   6,000 (KO 60P, submitted)
    # an order placed in TWS, working:     2 x 405 x 100 =  81,000 (MSFT 405P, 0 filled)
    # a sell CALL working and a filled put order count nothing
    # capacity = 200,000 - 40,000 - 6,000 - 81,000 = 73,000
    CAPACITY = "$73,000.00"

    @staticmethod
    def install(bridge) -> None:  # type: ignore[no-untyped-def]
        held = bridge.positions()
        held.append(
            option_position("AAPL", -2, account_id=bridge.account_id, avg_cost=350.0, strike=200.0)
        )
        bridge.positions = lambda: held
        WebOrder.objects.create(
            symbol="KO", expiry=EXPIRY, strike=60, right="P", action="SELL", quantity=1,
            status="submitted", ib_order_id=7,
        )  # fmt: skip
        WebOrder.objects.create(
            symbol="KO", expiry=EXPIRY, strike=70, right="C", action="SELL", quantity=2,
            status="submitted", ib_order_id=8,
        )  # fmt: skip
        WebOrder.objects.create(
            symbol="JNJ", expiry=EXPIRY, strike=150, right="P", action="SELL", quantity=1,
            status="filled", filled=1, ib_order_id=9,
        )  # fmt: skip
        tws = OrderRequest(
            client_order_id="tws-0000001", symbol="MSFT", expiry=EXPIRY, strike=405.0,
            right="P", action="SELL", quantity=2, limit_price=3.75,
        )  # fmt: skip
        bridge.placed[tws.client_order_id] = Order(
            order_id=55, client_order_id=tws.client_order_id, request=tws,
            status=OrderStatus.SUBMITTED, remaining=2,
        )  # fmt: skip


def test_cash_secured_capacity_is_cash_less_puts_held_and_working(bridge) -> None:
    Book.install(bridge)
    cap = capacity.current(bridge)
    assert cap is not None
    assert (cap.cash, cap.short_puts, cap.working_puts) == (200_000, 40_000, 87_000)
    assert cap.available == 73_000


def test_dashboard_shows_the_capacity_beside_margin_buying_power(
    client, bridge, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    Book.install(bridge)
    bridge.quotes = lambda symbols: []
    monkeypatch.setattr("wheeldesk_web.core.clients.kept_bridge", lambda timeout=5.0: bridge)
    cache.clear()
    client.force_login(get_user_model().objects.create_user("d", "d@example.com", "pw-1234567-x"))
    body = client.get(reverse("dashboard")).content.decode()
    card = re.search(r'id="cash-capacity".*?</div></div>', body, re.S)
    assert card, body[:1000]
    text = re.sub(r"<[^>]+>", " ", card.group(0))
    assert "Cash-secured capacity" in text and Book.CAPACITY in text
    assert "puts short $40,000" in text and "working $87,000" in text
    assert "margin buying power $180,000" in text


def test_the_scan_sends_the_capacity_to_the_screener(bridge, monkeypatch) -> None:
    Book.install(bridge)
    sent = []

    class Screener:
        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def scan(self, request, **progress):  # type: ignore[no-untyped-def]
            sent.append(request)
            return ScanResult(
                scan_id="s1", criteria=request.criteria, symbols=request.symbols, signals=[],
                rejections=[],
            )  # fmt: skip

    monkeypatch.setattr("wheeldesk_web.core.clients.screener", lambda timeout=180.0: Screener())
    run = ScanRun.objects.create(symbols=["KO"])
    signal_services.execute_scan(run)
    run.refresh_from_db()
    assert run.status == ScanRun.DONE, run.error
    assert [r.cash_capacity for r in sent] == [73_000.0]


def test_the_collateral_check_uses_the_capacity_not_buying_power(user_client, bridge) -> None:
    # a 740 put needs 74,000: within the 180,000 buying power, beyond the 73,000 capacity
    Book.install(bridge)
    r = user_client.post(
        reverse("orders:new"),
        {"symbol": "KO", "expiry": EXPIRY.isoformat(), "strike": "740", "right": "P",
         "action": "SELL", "quantity": "1", "limit_price": "1.10"},
    )  # fmt: skip
    coid = r["Location"].rstrip("/").split("/")[-1]
    page = user_client.get(reverse("orders:detail", args=[coid])).content.decode()
    assert 'data-check="Collateral" data-level="block"' in page
    assert "exceeds the cash-secured capacity $73,000.00" in page
    # a 730 put (73,000) fits exactly
    r = user_client.post(
        reverse("orders:new"),
        {"symbol": "KO", "expiry": EXPIRY.isoformat(), "strike": "730", "right": "P",
         "action": "SELL", "quantity": "1", "limit_price": "1.10"},
    )  # fmt: skip
    coid = r["Location"].rstrip("/").split("/")[-1]
    page = user_client.get(reverse("orders:detail", args=[coid])).content.decode()
    assert 'data-check="Collateral" data-level="pass"' in page


def _settings_form(client) -> dict:  # type: ignore[no-untyped-def]
    page = client.get("/settings/")
    data = {
        name: value
        for name, value in page.context["form"].initial.items()
        if value is not None and name not in ("id", "user")
    }
    return {k: ("on" if v is True else v) for k, v in data.items() if v is not False}


def test_covered_calls_have_their_own_criteria_in_settings_and_scans(user_client) -> None:
    from wheeldesk_web.preferences.models import UserConfig

    page = user_client.get("/settings/").content.decode()
    assert "Covered calls (empty: as the puts)" in page and "Calls: minimum |delta|" in page
    data = _settings_form(user_client)
    data.update(cc_dte_min=7, cc_dte_max=21, cc_delta_min=0.30, cc_delta_max=0.45, cc_min_apy=8)
    r = user_client.post("/settings/", data)
    assert r.status_code == 302, r.content.decode()[:2000]
    criteria = UserConfig.objects.get(user=user_client.user).criteria()
    calls, puts = criteria.for_kind("CC"), criteria.for_kind("CSP")
    assert (calls.dte_min, calls.dte_max, calls.delta_min, calls.delta_max, calls.min_apy) == (
        7, 21, 0.30, 0.45, 8.0,
    )  # fmt: skip
    assert (puts.dte_min, puts.dte_max, puts.delta_min, puts.delta_max, puts.min_apy) == (
        7, 45, 0.15, 0.30, 10.0,
    )  # fmt: skip
    # the scan queued for this user carries both sets to the screener
    run = signal_services.create_scan(user_client.user, symbols=["KO"])
    assert run.criteria["cc_delta_min"] == 0.30 and run.criteria["delta_min"] == 0.15
    # an inverted calls' window is a field error, nothing saved
    data.update(cc_dte_min=30, cc_dte_max=10)
    r = user_client.post("/settings/", data)
    assert r.status_code == 400
    assert "The covered calls&#x27; minimum DTE must be at most their maximum" in r.content.decode()
    assert UserConfig.objects.get(user=user_client.user).cc_dte_max == 21


def test_the_signals_table_shows_what_traders_scan_for_and_the_csv_has_every_column(
    user_client,
) -> None:
    # KO 60P, 30 DTE (expiry 2026-07-17), stock 64.00 (6.25 % OTM), bid 1.05 / ask 1.15,
    # OI 2,345 / volume 120; earnings 2026-07-08 and ex-dividend 2026-06-30 both fall
    # before the expiry (the scan day is 2026-06-17)
    s = _signal(user_client.user)
    s.bid, s.ask, s.open_interest, s.volume, s.distance_pct = 1.05, 1.15, 2345, 120, 6.25
    s.earnings_before_expiry = True
    s.fundamentals = {"next_earnings": "2026-07-08", "ex_dividend": "2026-06-30"}
    s.save()
    cc = _signal(user_client.user, kind="CC", strike=66.0, quantity=2)  # no events known
    empty, cc.scan = cc.scan, s.scan  # one scan: the page shows the latest
    cc.save()
    empty.delete()
    body = user_client.get(reverse("signals:list")).content.decode()
    for label in ("Underlying", "% OTM", "Bid / ask", "OI / vol", "Earnings / ex-div"):
        assert f">{label}</a>" in body or f">{label} " in body, label

    def cells(sig: Signal) -> dict[str, str]:
        row = re.search(rf'data-signal="{sig.pk}".*?</tr>', body, re.S)
        assert row
        found = re.findall(r'data-cell="(\w+)"[^>]*>(.*?)</td>', row.group(0), re.S)
        return {k: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", v)).strip() for k, v in found}

    row = cells(s)
    assert row["underlying"] == "64.00" and row["otm"] == "6.2"  # 6.25 shown to 1 place
    assert row["bidask"] == "1.05 / 1.15" and row["oivol"] == "2,345 / 120"
    assert row["events"] == "E 2026-07-08 D 2026-06-30"
    assert cells(cc)["events"] == "—" and "×2" in body
    csv_text = b"".join(user_client.get(reverse("signals:export")).streaming_content).decode()
    header, *lines = csv_text.strip().splitlines()
    columns = header.split(",")
    for name in ("underlying_price", "distance_pct", "bid", "ask", "open_interest", "volume",
                 "earnings_date", "ex_dividend_date", "quantity"):  # fmt: skip
        assert name in columns, name
    first = next(line.split(",") for line in lines if line.startswith("CSP,"))
    assert first[columns.index("earnings_date")] == "2026-07-08"
    assert first[columns.index("ex_dividend_date")] == "2026-06-30"


# ---- ledger onboarding -------------------------------------------------------------------
SYNC = SIM_START  # the first sync, at the harness's pinned moment


def _book() -> list[Position]:
    """tws-sim's demo book: 200 KO at 47.10 and a short AAPL 200 put sold at 2.40."""
    return [
        stock_position("KO", 200, account_id="DU1", avg_cost=47.10),
        option_position("AAPL", -1, account_id="DU1", avg_cost=240.0, strike=200.0),
    ]


def test_first_sync_offers_the_opening_lots_editable_and_seeds_the_watchlist(user_client) -> None:
    from decimal import Decimal

    from wheeldesk_web.ledger.models import Adjustment, WheelCycle
    from wheeldesk_web.ledger.services import ledger_differences, sync_positions
    from wheeldesk_web.watchlist.services import default_watchlist

    sync_positions(_book(), SYNC)
    body = user_client.get(reverse("ledger:cycles")).content.decode()
    panel = re.search(r'id="ledger-onboarding".*?</section>', body, re.S)
    assert panel, body[:1500]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", panel.group(0)))
    assert "KO shares opening lot" in text
    assert f"short AAPL {EXPIRY:%Y-%m-%d} 200P opening lot" in text
    assert 'value="47.1"' in panel.group(0) and 'value="2.4"' in panel.group(0)
    assert "Held but not on your watchlist: KO, AAPL" in text
    assert ledger_differences() == []  # open quantities match the account
    # the KO shares open a cycle holding 200 shares at IB's 47.10
    ko = WheelCycle.objects.get(symbol="KO")
    assert (ko.state, ko.shares) == ("shares", 200)

    # correct the KO lot: 200 at 46.50 (a real cost the user knows)
    lot = Adjustment.objects.get(symbol="KO", kind="lot")
    r = user_client.post(
        reverse("ledger:opening_lot", args=[lot.pk]), {"quantity": "200", "price": "46.50"}
    )
    assert r.status_code == 302
    lot.refresh_from_db()
    assert (lot.price, lot.from_broker) == (Decimal("46.50"), False)
    assert WheelCycle.objects.get(symbol="KO").adjusted_cost_basis == Decimal("46.5")
    # a bad number is a message, nothing saved
    r = user_client.post(
        reverse("ledger:opening_lot", args=[lot.pk]), {"quantity": "-1", "price": "x"}, follow=True
    )
    assert "Opening lot not saved" in r.content.decode()
    lot.refresh_from_db()
    assert lot.quantity == 200 and lot.price == Decimal("46.50")
    # the corrected lot is still listed as the opening lot
    body = user_client.get(reverse("ledger:cycles")).content.decode()
    assert f'data-lot="{lot.pk}"' in body and "corrected" in body

    r = user_client.post(reverse("ledger:seed_watchlist"), follow=True)
    assert "Added KO, AAPL to" in r.content.decode()
    assert sorted(default_watchlist(user_client.user).symbols()) == ["AAPL", "KO"]
    # seeded: the offer is gone
    body = user_client.get(reverse("ledger:cycles")).content.decode()
    assert "Held but not on your watchlist" not in body


def test_a_covered_call_on_opening_shares_is_a_covered_call_with_the_shares(user_client) -> None:
    from wheeldesk_web.ledger.models import WheelCycle
    from wheeldesk_web.ledger.services import record_fills, sync_positions

    sync_positions(_book(), SYNC)
    # a day later: sell 2 KO 50 calls at 0.80 on the 200 shares
    record_fills(
        [
            option_fill(
                "0000e001.00000091.01.01", account_id="DU1", time=SYNC + timedelta(days=1),
                strike=50.0, right="C", quantity=2, price=0.80, commission=None, order_id=5,
            )
        ],
        "nats",
    )  # fmt: skip
    (ko,) = WheelCycle.objects.filter(symbol="KO").exclude(state="closed")
    assert ko.state == "covered_call" and ko.shares == 200
    assert ko.state_label == "Covered call open"
    # premium 2 x 0.80 x 100 = 160; basis 47.10 - 160 / 200 = 46.30
    from decimal import Decimal

    assert ko.premium == Decimal("160") and ko.adjusted_cost_basis == Decimal("46.3")
    page = user_client.get(reverse("ledger:cycles")).content.decode()
    row = re.search(r'<tr data-symbol="KO" data-state="covered_call">.*?</tr>', page, re.S)
    assert row and "Covered call open" in row.group(0)


def test_filled_and_cancelled_are_not_set_by_hand(user_client) -> None:
    s = _signal(user_client.user, kind="CC", strike=66.0, quantity=2)
    page = user_client.get(reverse("signals:detail", args=[s.pk])).content.decode()
    assert '<span id="signal-quantity">2 contracts</span>' in page
    assert "Mark dismissed" in page and "Mark filled" not in page
    r = user_client.post(reverse("signals:status", args=[s.pk]), {"status": "filled"}, follow=True)
    assert "follow the signal&#x27;s order" in r.content.decode()
    s.refresh_from_db()
    assert s.status == "seen"
    user_client.post(reverse("signals:status", args=[s.pk]), {"status": "dismissed"})
    s.refresh_from_db()
    assert s.status == "dismissed"
