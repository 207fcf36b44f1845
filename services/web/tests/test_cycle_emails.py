"""Assignment, expiry, call-away and roll emails say what happened to the wheel cycle.

A PEP wheel through the ledger (the executions as IB reports them, stored as the live feed
stores them), the worker's email decision after each step, and the context the notifier
renders (its templates are tested on the same keys in services/notifier/tests/test_render.py).
Numbers worked by hand in the comments.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from web_factories import option_fill, stock_fill
from wheeldesk.schemas.orders import Fill
from wheeldesk_web.alerts.cycle_events import queue_cycle_events
from wheeldesk_web.alerts.emails import fill_context, queue_order_fills
from wheeldesk_web.alerts.models import Notification
from wheeldesk_web.ledger.models import WheelCycle
from wheeldesk_web.ledger.services import record_fills

pytestmark = pytest.mark.django_db

EMAIL = "wheel@example.com"


def opt(exec_id: str, day: str, side: str, right: str, strike: float, expiry: str, price: float,
        kind: str = "trade") -> Fill:  # fmt: skip
    return option_fill(
        exec_id, time=datetime.fromisoformat(f"{day}T15:00:00+00:00"), symbol="PEP",
        expiry=date.fromisoformat(expiry), strike=strike, right=right, side=side, price=price,
        commission=None if kind != "trade" else 1.05, kind=kind,
    )  # fmt: skip


def stock(exec_id: str, day: str, side: str, price: float) -> Fill:
    return stock_fill(
        exec_id, time=datetime(*map(int, day.split("-")), 21, tzinfo=UTC), symbol="PEP",
        side=side, price=price, kind="assignment",
    )  # fmt: skip


@pytest.fixture
def trader():  # type: ignore[no-untyped-def]
    return get_user_model().objects.create_user("wheel", EMAIL, "s3cret-pass-123")


def decided() -> list[dict]:
    return [
        n.request["context"] | {"_to": n.request["to"], "_key": n.key}
        for n in Notification.objects.filter(kind="cycle_event").order_by("id")
    ]


def test_assignment_expiry_and_call_away_each_say_what_the_cycle_did(trader) -> None:
    # Sold the PEP 150 put at 2.40, assigned at expiry: 100 shares at 150.
    record_fills([opt("p1", "2026-11-02", "SLD", "P", 150, "2026-11-20", 2.40)], "nats")
    assert queue_cycle_events() == []  # a sale is a fill, not a cycle event
    record_fills(
        [
            opt("a1", "2026-11-20", "BOT", "P", 150, "2026-11-20", 0, kind="assignment"),
            stock("a2", "2026-11-20", "BOT", 150.0),
        ],
        "nats",
    )
    [assigned] = queue_order_fills()  # the worker's call after each sync decides it
    cycle = WheelCycle.objects.get(symbol="PEP")
    ctx = assigned.request["context"]
    assert assigned.request["to"] == [EMAIL] and assigned.key == f"cycle-event:{trader.pk}:a1"
    assert ctx["event"] == "assignment"
    assert ctx["headline"] == "Assigned: PEP 2026-11-20 150P — 100 shares bought at $150.00"
    assert ctx["detail"] == "1 contract assigned: 100 PEP shares bought at $150.00 ($15,000.00)."
    # premium so far 2.40 x 100 = 240; basis 150 - 240 / 100 = 147.60
    assert ctx["cycle"] == {
        "symbol": "PEP",
        "state": "Holding shares",
        "premium": 240.0,
        "basis": 147.6,
        "next_step": "shares assigned — sell a covered call?",
        "path": f"/ledger/cycles/{cycle.key}/",
    }
    assert queue_cycle_events() == []  # decided once

    # A 155 call sold at 1.50 expires worthless: premium 240 + 150 = 390, basis 146.10.
    record_fills(
        [
            opt("c1", "2026-11-23", "SLD", "C", 155, "2026-12-18", 1.50),
            opt("e1", "2026-12-18", "BOT", "C", 155, "2026-12-18", 0, kind="expiration"),
        ],
        "nats",
    )
    [expired] = queue_cycle_events()
    ctx = expired.request["context"]
    assert ctx["headline"] == "Expired worthless: PEP 2026-12-18 155C — the premium is kept"
    assert ctx["cycle"]["premium"] == 390.0 and ctx["cycle"]["basis"] == 146.1
    assert ctx["cycle"]["state"] == "Holding shares"
    assert ctx["cycle"]["next_step"] == (
        "the call expired and the shares are still held — sell another covered call?"
    )

    # Another 155 call at 1.00, assigned: the shares are called away at 155, cycle closed.
    record_fills(
        [
            opt("c2", "2026-12-21", "SLD", "C", 155, "2027-01-15", 1.00),
            opt("x1", "2027-01-15", "BOT", "C", 155, "2027-01-15", 0, kind="assignment"),
            stock("x2", "2027-01-15", "SLD", 155.0),
        ],
        "nats",
    )
    [called] = queue_cycle_events()
    ctx = called.request["context"]
    assert ctx["event"] == "called_away"
    assert ctx["headline"] == "Called away: PEP 2027-01-15 155C — 100 shares sold at $155.00"
    # premium 390 + 100 = 490; the cycle is closed: sell a new put
    assert ctx["cycle"]["premium"] == 490.0 and ctx["cycle"]["state"].startswith("Closed")
    assert ctx["cycle"]["next_step"] == "cycle closed — sell a new put?"
    assert [d["_key"] for d in decided()] == [
        f"cycle-event:{trader.pk}:{x}" for x in ("a1", "e1", "x1")
    ]


def test_no_email_for_a_user_who_turned_fill_emails_off(trader) -> None:
    from wheeldesk_web.preferences.models import UserConfig

    UserConfig.objects.filter(pk=UserConfig.for_user(trader).pk).update(notify_fills=False)
    record_fills(
        [
            opt("p1", "2026-11-02", "SLD", "P", 150, "2026-11-20", 2.40),
            opt("e1", "2026-11-20", "BOT", "P", 150, "2026-11-20", 0, kind="expiration"),
        ],
        "nats",
    )
    assert queue_cycle_events() == []


def test_a_filled_roll_emails_its_net_credit_and_the_cycle(trader) -> None:
    from wheeldesk_web.orders.models import Order

    record_fills([opt("p1", "2026-11-02", "SLD", "P", 150, "2026-11-20", 2.40)], "nats")
    legs = [
        {"expiry": "2026-11-20", "strike": 150.0, "right": "P", "action": "BUY"},
        {"expiry": "2026-12-18", "strike": 145.0, "right": "P", "action": "SELL"},
    ]
    roll = Order(
        user=trader, symbol="PEP", sec_type="BAG", action="BUY", quantity=1, legs=legs,
        order_type="LMT", limit_price=Decimal("-0.70"), avg_fill_price=Decimal("-0.70"),
        filled=1, status="filled", account_id="DU1",
    )  # fmt: skip
    ctx = fill_context(roll)
    # IB's net price -0.70 (a credit) bought: -1 x -0.70 x 1 x 100 = +70 net credit
    assert ctx["roll"] is True and ctx["premium"] == 70.0
    assert ctx["cycle"]["state"] == "Short put open" and ctx["cycle"]["premium"] == 240.0
    assert ctx["cycle"]["path"].startswith("/ledger/cycles/")


def test_history_is_not_news_old_or_flex_imported_events_send_nothing(trader) -> None:
    """An expiry 11 days before the ledger's newest execution (2026-06-16), or any expiry
    only a Flex report told of, is history, not an email."""
    record_fills(
        [
            opt("p1", "2026-05-01", "SLD", "P", 150, "2026-06-05", 2.40),
            opt("old", "2026-06-05", "BOT", "P", 150, "2026-06-05", 0, kind="expiration"),
        ],
        "nats",
    )
    record_fills(
        [
            opt("p2", "2026-05-20", "SLD", "C", 160, "2026-06-16", 1.00),
            opt("flex", "2026-06-16", "BOT", "C", 160, "2026-06-16", 0, kind="expiration"),
        ],
        "flex",
    )
    assert queue_cycle_events() == []
    # the same kind of event from the live feed, the day before: news
    record_fills(
        [
            opt("p3", "2026-05-20", "SLD", "P", 140, "2026-06-16", 1.00),
            opt("new", "2026-06-16", "BOT", "P", 140, "2026-06-16", 0, kind="expiration"),
        ],
        "nats",
    )
    [news] = queue_cycle_events()
    assert news.request["context"]["headline"] == (
        "Expired worthless: PEP 2026-06-16 140P — the premium is kept"
    )
