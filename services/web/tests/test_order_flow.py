"""Order lifecycle through the web views, against an in-process stand-in of the bridge API.

The stand-in keeps the bridge's contract (dedup on client_order_id, an order list,
what-if) so these tests pin the web's own guarantees: a double confirm or a replayed
POST sends one order; a lost answer is reconciled from the order list, not re-sent;
refusals (live guard, trading switch, blocking checks) are shown and audited. The
same flows run against the real bridge + tws-sim in test_e2e_orders.py.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from wheeldesk.clients import ServiceCallError
from wheeldesk.schemas.orders import Order, OrderRequest, OrderStatus
from wheeldesk_testing.moments import SIM_START
from wheeldesk_web.ledger.models import Execution, WheelCycle
from wheeldesk_web.orders.models import Order as WebOrder
from wheeldesk_web.orders.models import OrderAudit, TradingConfig
from wheeldesk_web.orders.services import refresh

pytestmark = pytest.mark.django_db
EXPIRY = SIM_START.date() + timedelta(days=30)  # 30 DTE on the pinned broker clock


@pytest.fixture
def user_client(client):
    user = get_user_model().objects.create_user("trader", "t@example.com", "pw-123456-xyz")
    user.user_permissions.add(Permission.objects.get(codename="trade"))
    client.force_login(user)
    return client


def ticket(client, coid: str) -> str:
    """The ticket fingerprint the preview page's confirm form carries."""
    page = client.get(reverse("orders:detail", args=[coid])).content.decode()
    found = re.search(r'name="ticket" value="([0-9a-f]*)"', page)
    assert found, page[:500]
    return found.group(1)


def confirm(client, coid: str, **kwargs):  # type: ignore[no-untyped-def]
    """Confirm as the preview page does (its ticket fingerprint included)."""
    return client.post(
        reverse("orders:confirm", args=[coid]), {"ticket": ticket(client, coid)}, **kwargs
    )


def draft(client, **extra) -> str:
    params = {
        "symbol": "KO",
        "expiry": EXPIRY.isoformat(),
        "strike": "60",
        "right": "P",
        "action": "SELL",
        "quantity": "1",
        "limit_price": "1.10",
        **extra,
    }
    r = client.post(reverse("orders:new"), params)
    assert r.status_code == 302
    return r["Location"].rstrip("/").split("/")[-1]


def test_preview_shows_whatif_checks_and_paper_mode(user_client, bridge):
    coid = draft(user_client)
    page = user_client.get(reverse("orders:detail", args=[coid])).content.decode()
    assert 'data-mode="paper"' in page and "PAPER account DU7654321" in page
    assert "$110.00" in page  # premium: 1.10 × 100
    assert "$1.05" in page and "$175,500.00" in page  # commission, buying power after
    assert "$6,000.00" in page  # collateral 60 × 100
    assert 'data-check="Collateral" data-level="pass"' in page
    assert 'data-set-limit="1.00"' in page and 'data-set-limit="1.20"' in page
    assert OrderAudit.objects.filter(client_order_id=coid, action="preview").exists()


def test_double_confirm_and_replayed_post_place_one_order(user_client, bridge):
    coid = draft(user_client)
    url = reverse("orders:confirm", args=[coid])
    form = {"ticket": ticket(user_client, coid)}
    for _ in range(3):  # a double click, then a browser replaying the POST
        assert user_client.post(url, form).status_code == 302
    assert bridge.place_calls == 1 and len(bridge.placed) == 1
    order = WebOrder.objects.get(client_order_id=coid)
    assert order.status == "submitted" and order.ib_order_id == 100
    assert OrderAudit.objects.filter(client_order_id=coid, action="duplicate").count() == 2


def test_lost_answer_is_reconciled_not_resent(user_client, bridge):
    coid = draft(user_client)
    bridge.lose_next_answer = True
    confirm(user_client, coid)
    order = WebOrder.objects.get(client_order_id=coid)
    assert bridge.place_calls == 1
    assert order.status == "submitted" and order.ib_order_id == 100  # found in the order list
    assert OrderAudit.objects.filter(client_order_id=coid, action="reconcile").exists()


def test_fill_reaches_history_and_ledger(user_client, bridge):
    coid = draft(user_client)
    confirm(user_client, coid)
    bridge.fill(coid, 1.12)
    refresh(WebOrder.objects.get(client_order_id=coid), bridge)  # the worker's after-sync
    status = user_client.get(reverse("orders:status", args=[coid])).content.decode()
    assert 'data-status="filled"' in status and "$1.12" in status and "$1.05" in status
    history = user_client.get(reverse("orders:list")).content.decode()
    assert f'data-client-order-id="{coid}" data-status="filled"' in history
    assert "PAPER account DU7654321" in history
    assert Execution.objects.filter(client_order_id=coid).count() == 1
    cycle = WheelCycle.objects.get(symbol="KO")
    assert cycle.state == "short_put" and cycle.premium == 112  # 1.12 × 100


def test_cancel_working_order(user_client, bridge):
    coid = draft(user_client)
    confirm(user_client, coid)
    user_client.post(reverse("orders:cancel", args=[coid]))
    assert WebOrder.objects.get(client_order_id=coid).status == "cancelled"
    r = user_client.post(reverse("orders:cancel", args=[coid]), follow=True)
    assert "nothing to cancel" in r.content.decode()


def test_live_guard_refusal_is_shown(user_client, bridge):
    bridge.refuse = ServiceCallError(
        "gateway-bridge", 403, "live_orders_disabled", "live account U1234567: orders refused"
    )
    coid = draft(user_client)
    page = confirm(user_client, coid, follow=True).content.decode()
    assert "Refused by the live-account guard" in page and "ALLOW_LIVE_ORDERS" in page
    assert WebOrder.objects.get(client_order_id=coid).status == "refused"
    assert OrderAudit.objects.filter(client_order_id=coid, action="refused").exists()


def test_trading_switch_and_naked_call_block(user_client, bridge):
    cfg = TradingConfig.load()
    cfg.trading_enabled = False
    cfg.save()
    coid = draft(user_client)
    page = user_client.get(reverse("orders:detail", args=[coid])).content.decode()
    assert 'data-check="Trading switch" data-level="block"' in page and "disabled" in page
    page = confirm(user_client, coid, follow=True).content.decode()
    assert "Trading is disabled" in page and bridge.place_calls == 0
    cfg.trading_enabled = True
    cfg.save()
    coid = draft(user_client, right="C", strike="70", quantity="3")  # 200 shares, 3 calls
    page = user_client.get(reverse("orders:detail", args=[coid])).content.decode()
    assert 'data-check="Covered call" data-level="block"' in page
    confirm(user_client, coid)
    assert bridge.place_calls == 0


def test_bad_draft_parameters_are_refused(user_client, bridge):
    r = user_client.post(reverse("orders:new"), {"symbol": "<script>", "expiry": "x"}, follow=True)
    assert "Cannot prepare that order" in r.content.decode()
    assert WebOrder.objects.count() == 0


def test_limit_refused_by_the_bridge_goes_back_to_preview(user_client, bridge):
    bridge.refuse = ServiceCallError(
        "gateway-bridge",
        422,
        "limit_outside_market",
        "limit 0.05 is far below the bid 1.00",
        field="limit_price",
    )
    coid = draft(user_client)
    page = confirm(user_client, coid, follow=True).content.decode()
    assert "limit 0.05 is far below the bid 1.00" in page and "confirm-order" in page
    assert WebOrder.objects.get(client_order_id=coid).status == "previewed"
    bridge.refuse = None
    confirm(user_client, coid)
    assert WebOrder.objects.get(client_order_id=coid).status == "submitted"
    assert len(bridge.placed) == 1


async def test_order_events_wake_the_order_page_over_sse(nats_server) -> None:
    import asyncio

    import nats
    from wheeldesk import subjects
    from wheeldesk.schemas.orders import OrderEvent
    from wheeldesk_web.live.hub import Hub

    hub = Hub(nats_server.url)
    hub.start()
    listener = hub.register(frozenset())
    for _ in range(200):
        if hub._nc is not None and hub._nc.is_connected:
            break
        await asyncio.sleep(0.05)
    await hub._nc.flush()
    publisher = await nats.connect(nats_server.url)
    try:
        req = OrderRequest(
            client_order_id="wd-sse-000001",
            symbol="KO",
            expiry=EXPIRY,
            strike=60,
            right="P",
            action="SELL",
            quantity=1,
            limit_price=1.1,
        )
        event = OrderEvent(
            order=Order(
                order_id=7,
                client_order_id=req.client_order_id,
                request=req,
                status=OrderStatus.FILLED,
            )
        )
        await publisher.publish(subjects.order(7), b"{broken")  # skipped
        await publisher.publish(subjects.order(7), event.model_dump_json().encode())
        await asyncio.wait_for(listener.wake.wait(), 10)
        assert listener.pending == {"order-wd-sse-000001": "filled"}
    finally:
        await publisher.close()
        await hub._nc.close()


def test_close_draft_takes_the_bridges_suggested_limit(user_client, bridge):
    """A close's limit is the one the bridge priced on the contract's tick (its what-if ran at
    it). A roll is one combo order, over the real chain: tests/e2e/test_roll_combo.py."""
    params = {
        "symbol": "KO",
        "expiry": EXPIRY.isoformat(),
        "strike": "60",
        "right": "P",
        "quantity": "1",
    }
    r = user_client.post(reverse("orders:close"), params)
    coid = r["Location"].rstrip("/").split("/")[-1]
    page = user_client.get(reverse("orders:detail", args=[coid])).content.decode()
    order = WebOrder.objects.get(client_order_id=coid)
    assert order.action == "BUY" and order.intent == "close"
    assert order.limit_price == Decimal("1.10")  # the bridge's suggested_limit
    assert "Debit paid" in page and "−$110.00" in page


@pytest.mark.parametrize(
    ("new_expiry", "new_strike"),
    [
        ("later", "Infinity"),
        ("later", "1e999"),
        ("later", "123456789012345"),
        ("later", "NaN"),
        ("later", "-57.5"),
        ("2020-01-17", "57.5"),
        ("2026-02-31", "57.5"),
    ],
)
def test_roll_to_a_bad_contract_is_refused_and_drafts_nothing(
    user_client, bridge, new_expiry, new_strike
):
    later = (EXPIRY + timedelta(days=28)).isoformat()
    params = {"symbol": "KO", "expiry": EXPIRY.isoformat(), "strike": "60", "right": "P"}
    r = user_client.post(
        reverse("orders:roll"),
        {
            **params,
            "new_expiry": later if new_expiry == "later" else new_expiry,
            "new_strike": new_strike,
        },
    )
    assert r.status_code == 200
    assert "The new contract needs a later expiry and a positive strike." in r.content.decode()
    assert WebOrder.objects.count() == 0


def test_an_order_never_seen_by_ibkr_is_released_after_a_while(user_client, bridge):
    coid = draft(user_client)
    bridge.refuse = ServiceCallError("gateway-bridge", None, "timeout", "timed out")
    confirm(user_client, coid)
    order = WebOrder.objects.get(client_order_id=coid)
    assert order.status == "unknown"  # not in the bridge's list: not re-sent, still checking
    refresh(order, bridge)
    assert order.status == "unknown" and bridge.place_calls == 1
    WebOrder.objects.filter(pk=order.pk).update(sent_at=order.sent_at - timedelta(minutes=16))
    order.refresh_from_db()
    refresh(order, bridge)
    assert order.status == "refused" and "not placed" in order.message
    assert bridge.place_calls == 1


def test_confirm_after_an_unpreviewed_update_is_refused_and_nothing_is_placed(user_client, bridge):
    """17.2: the confirm form carries the fingerprint of the ticket the user saw."""
    cfg = TradingConfig.load()
    cfg.max_contracts = 2
    cfg.save()
    coid = draft(user_client)
    seen = ticket(user_client, coid)  # the page with 1 contract
    user_client.post(
        reverse("orders:update", args=[coid]), {"quantity": "5", "limit_price": "1.10"}
    )
    page = user_client.post(
        reverse("orders:confirm", args=[coid]), {"ticket": seen}, follow=True
    ).content.decode()
    assert "the order changed since the preview you confirmed" in page
    assert "SELL 5 KO" in page
    assert bridge.place_calls == 0
    order = WebOrder.objects.get(client_order_id=coid)
    assert order.status == "previewed" and order.quantity == 5
    # The preview of 5 (what the page now shows) blocks on the size cap…
    assert 'data-check="Size caps" data-level="block"' in page
    # …and a confirm carrying the new fingerprint is still refused by the checks run again.
    page = confirm(user_client, coid, follow=True).content.decode()
    assert "Blocked by pre-trade checks (Size caps)" in page
    assert bridge.place_calls == 0
    # No fingerprint at all: refused too.
    user_client.post(reverse("orders:confirm", args=[coid]))
    assert bridge.place_calls == 0 and WebOrder.objects.get(client_order_id=coid).status == (
        "previewed"
    )


def test_confirm_runs_every_check_again_on_the_account_as_it_is_now(user_client, bridge):
    coid = draft(user_client)
    page = user_client.get(reverse("orders:detail", args=[coid])).content.decode()
    assert 'data-check="Collateral" data-level="pass"' in page
    # another order took the cash and the buying power meanwhile
    bridge.available_funds = bridge.cash = 4_000.0
    page = confirm(user_client, coid, follow=True).content.decode()
    assert "Blocked by pre-trade checks (Collateral" in page
    assert "Collateral $6,000.00 exceeds" in page
    assert 'data-check="Collateral" data-level="block"' in page
    assert bridge.place_calls == 0
    # the limits are read at confirm too: a cap lowered after the preview holds
    bridge.available_funds, bridge.cash = 180_000.0, 200_000.0
    cfg = TradingConfig.load()
    cfg.max_notional = 5_000
    cfg.save()
    confirm(user_client, coid)
    assert bridge.place_calls == 0
    order = WebOrder.objects.get(client_order_id=coid)
    assert {c["name"]: c["level"] for c in order.checks}["Size caps"] == "block"
    cfg.max_notional = 100_000
    cfg.save()
    confirm(user_client, coid)
    assert bridge.place_calls == 1
    assert WebOrder.objects.get(client_order_id=coid).status == "submitted"


def test_not_connected_at_confirm_marks_not_sent_and_a_retry_places_it_once(user_client, bridge):
    """17.8: the bridge's immediate 503 "not connected" means nothing was placed."""
    bridge.refuse = ServiceCallError(
        "gateway-bridge",
        503,
        "ib_unavailable",
        "not connected to IBKR: Gateway restarting",
    )
    coid = draft(user_client)
    page = confirm(user_client, coid, follow=True).content.decode()
    order = WebOrder.objects.get(client_order_id=coid)
    assert order.status == "not_sent" and "nothing was placed" in order.message
    assert "Not sent — IBKR disconnected" in page and 'id="confirm-order"' in page
    assert list(order.history.values_list("status", flat=True)) == ["sending", "not_sent"]
    listed = user_client.get(reverse("orders:list")).content.decode()
    assert f'data-client-order-id="{coid}" data-status="not_sent"' in listed
    assert "not sent — IBKR disconnected" in listed
    bridge.refuse = None  # the Gateway is back: the user confirms again
    confirm(user_client, coid)
    order.refresh_from_db()
    assert order.status == "submitted" and len(bridge.placed) == 1
    # a connection lost mid-request is not "not sent": the order may be at IBKR
    coid = draft(user_client, strike="55")
    bridge.refuse = ServiceCallError(
        "gateway-bridge", 503, "ib_unavailable", "connection to IBKR lost during the request"
    )
    confirm(user_client, coid)
    assert WebOrder.objects.get(client_order_id=coid).status == "unknown"


def test_a_late_answer_never_moves_an_order_back(user_client, bridge):
    """The place call's answer arriving after the stream's "filled" keeps it filled, priced."""
    from wheeldesk_web.orders.services import apply_bridge_order

    coid = draft(user_client)
    confirm(user_client, coid)  # the fake answers "submitted"
    stale = bridge.placed[coid].model_copy(deep=True)
    bridge.fill(coid, 1.12)
    order = WebOrder.objects.get(client_order_id=coid)
    apply_bridge_order(order, bridge.placed[coid])  # the event: filled at 1.12
    apply_bridge_order(order, stale)  # then the late "submitted", no price
    order.refresh_from_db()
    assert (order.status, order.filled, order.avg_fill_price) == ("filled", 1, Decimal("1.12"))
    assert order.commission == Decimal("1.05") and len(order.fills) == 1
    assert list(order.history.values_list("status", flat=True)) == [
        "sending",
        "submitted",
        "filled",
    ]


def test_automatic_reprice_is_opted_into_at_confirm_and_a_bad_plan_sends_nothing(
    user_client, bridge
):
    coid = draft(user_client)
    page = user_client.get(reverse("orders:detail", args=[coid])).content.decode()
    assert 'name="auto_reprice"' in page and "Re-price automatically while unfilled" in page
    url = reverse("orders:confirm", args=[coid])
    form = {"ticket": ticket(user_client, coid), "auto_reprice": "on", "reprice_step": "0.05"}
    r = user_client.post(url, {**form, "reprice_max": "3"}, follow=True)
    assert "Not sent: Automatic re-price every (minutes): required" in r.content.decode()
    r = user_client.post(url, {**form, "reprice_every": "5", "reprice_max": "99"}, follow=True)
    assert "Automatic re-price up to (steps): Ensure this value is less than or equal to 20" in (
        r.content.decode()
    )
    assert bridge.place_calls == 0 and WebOrder.objects.get(client_order_id=coid).is_draft
    r = user_client.post(url, {**form, "reprice_every": "5", "reprice_max": "3"}, follow=True)
    assert bridge.place_calls == 1
    order = WebOrder.objects.get(client_order_id=coid)
    assert (order.reprice_every, order.reprice_max, order.reprice_step) == (5, 3, Decimal("0.05"))
    shown = r.content.decode()
    assert "Automatic re-price: every 5 min, 0.05 toward the bid, 0 of 3 steps taken." in shown


def test_without_the_tick_no_automatic_reprice_is_planned(user_client, bridge):
    coid = draft(user_client)
    confirm(user_client, coid)
    order = WebOrder.objects.get(client_order_id=coid)
    assert order.status == "submitted" and order.reprice_every is None
    page = user_client.get(reverse("orders:detail", args=[coid])).content.decode()
    assert "Automatic re-price" not in page
