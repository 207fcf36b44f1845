"""Order lifecycle through the web views, against an in-process stand-in of the bridge API.

The stand-in keeps the bridge's contract (dedup on client_order_id, an order list,
what-if) so these tests pin the web's own guarantees: a double confirm or a replayed
POST sends one order; a lost answer is reconciled from the order list, not re-sent;
refusals (live guard, trading switch, blocking checks) are shown and audited. The
same flows run against the real bridge + tws-sim in test_e2e_orders.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from wheeldesk.clients import ServiceCallError
from wheeldesk.schemas.account import Account, Position
from wheeldesk.schemas.market import Fundamentals, Quote, StockInfo
from wheeldesk.schemas.orders import Fill, Order, OrderPreview, OrderRequest, OrderStatus
from wheeldesk_web.ledger.models import Execution, WheelCycle
from wheeldesk_web.orders.models import Order as WebOrder
from wheeldesk_web.orders.models import OrderAudit, TradingConfig

pytestmark = pytest.mark.django_db
EXPIRY = date.today() + timedelta(days=30)


class FakeBridge:
    """Same contract as SyncBridgeClient for the calls the order pages make."""

    def __init__(self) -> None:
        self.placed: dict[str, Order] = {}
        self.place_calls = 0
        self.lose_next_answer = False
        self.refuse: ServiceCallError | None = None
        self.account_id = "DU7654321"

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def preview(self, req: OrderRequest) -> OrderPreview:
        return OrderPreview(
            request=req,
            account_id=self.account_id,
            is_paper=self.account_id.startswith("DU"),
            commission=1.05,
            init_margin_change=4_500.0,
            maint_margin_change=4_500.0,
            buying_power_before=180_000.0,
            buying_power_after=175_500.0,
            bid=1.00,
            ask=1.20,
            mid=1.10,
        )

    def account(self) -> Account:
        return Account(
            account_id=self.account_id,
            is_paper=True,
            net_liquidation=250_000,
            cash=200_000,
            buying_power=180_000,
            available_funds=180_000,
        )

    def positions(self) -> list[Position]:
        return [
            Position(
                account_id=self.account_id,
                symbol="KO",
                sec_type="STK",
                quantity=200,
                avg_cost=60,
                market_value=12_800,
            )
        ]

    def orders(self) -> list[Order]:
        return list(self.placed.values())

    def order(self, order_id: int) -> Order:
        for o in self.placed.values():
            if o.order_id == order_id:
                return o
        raise ServiceCallError("gateway-bridge", 404, "not_found", "no such order")

    def stock(self, symbol: str) -> StockInfo:
        return StockInfo(
            symbol=symbol, quote=Quote(symbol=symbol, last=64.0), fundamentals=Fundamentals()
        )

    def place(self, req: OrderRequest) -> Order:
        self.place_calls += 1
        if self.refuse:
            raise self.refuse
        if req.client_order_id not in self.placed:  # the bridge's dedup
            self.placed[req.client_order_id] = Order(
                order_id=100 + len(self.placed),
                client_order_id=req.client_order_id,
                account_id=self.account_id,
                request=req,
                status=OrderStatus.SUBMITTED,
                remaining=req.quantity,
            )
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise ServiceCallError("gateway-bridge", None, "timeout", "timed out")
        return self.placed[req.client_order_id]

    def cancel(self, order_id: int) -> Order:
        o = self.order(order_id)
        o.status = OrderStatus.CANCELLED
        return o

    def fill(self, client_order_id: str, price: float) -> None:
        o = self.placed[client_order_id]
        r = o.request
        o.status, o.filled, o.remaining, o.avg_fill_price = OrderStatus.FILLED, r.quantity, 0, price
        o.fills = [
            Fill(
                exec_id=f"e-{o.order_id}",
                order_id=o.order_id,
                client_order_id=r.client_order_id,
                time=datetime.now(UTC),
                symbol=r.symbol,
                sec_type="OPT",
                expiry=r.expiry,
                strike=r.strike,
                right=r.right,
                multiplier=100,
                side="SLD" if r.action == "SELL" else "BOT",
                quantity=r.quantity,
                price=price,
                commission=1.05,
            )
        ]
        o.commission = 1.05


@pytest.fixture
def bridge(monkeypatch) -> FakeBridge:
    fake = FakeBridge()
    monkeypatch.setattr("wheeldesk_web.core.clients.bridge", lambda timeout=8.0: fake)
    return fake


@pytest.fixture
def user_client(client):
    user = get_user_model().objects.create_user("trader", "t@example.com", "pw-123456-xyz")
    client.force_login(user)
    return client


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
    r = client.get(reverse("orders:new"), params)
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
    user_client.get(reverse("orders:detail", args=[coid]))
    url = reverse("orders:confirm", args=[coid])
    for _ in range(3):  # a double click, then a browser replaying the POST
        assert user_client.post(url).status_code == 302
    assert bridge.place_calls == 1 and len(bridge.placed) == 1
    order = WebOrder.objects.get(client_order_id=coid)
    assert order.status == "submitted" and order.ib_order_id == 100
    assert OrderAudit.objects.filter(client_order_id=coid, action="duplicate").count() == 2


def test_lost_answer_is_reconciled_not_resent(user_client, bridge):
    coid = draft(user_client)
    user_client.get(reverse("orders:detail", args=[coid]))
    bridge.lose_next_answer = True
    user_client.post(reverse("orders:confirm", args=[coid]))
    order = WebOrder.objects.get(client_order_id=coid)
    assert bridge.place_calls == 1
    assert order.status == "submitted" and order.ib_order_id == 100  # found in the order list
    assert OrderAudit.objects.filter(client_order_id=coid, action="reconcile").exists()


def test_fill_reaches_history_and_ledger(user_client, bridge):
    coid = draft(user_client)
    user_client.get(reverse("orders:detail", args=[coid]))
    user_client.post(reverse("orders:confirm", args=[coid]))
    bridge.fill(coid, 1.12)
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
    user_client.get(reverse("orders:detail", args=[coid]))
    user_client.post(reverse("orders:confirm", args=[coid]))
    user_client.post(reverse("orders:cancel", args=[coid]))
    assert WebOrder.objects.get(client_order_id=coid).status == "cancelled"
    r = user_client.post(reverse("orders:cancel", args=[coid]), follow=True)
    assert "nothing to cancel" in r.content.decode()


def test_live_guard_refusal_is_shown(user_client, bridge):
    bridge.refuse = ServiceCallError(
        "gateway-bridge", 403, "live_orders_disabled", "live account U1234567: orders refused"
    )
    coid = draft(user_client)
    user_client.get(reverse("orders:detail", args=[coid]))
    page = user_client.post(reverse("orders:confirm", args=[coid]), follow=True).content.decode()
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
    page = user_client.post(reverse("orders:confirm", args=[coid]), follow=True).content.decode()
    assert "Trading is disabled" in page and bridge.place_calls == 0
    cfg.trading_enabled = True
    cfg.save()
    coid = draft(user_client, right="C", strike="70", quantity="3")  # 200 shares, 3 calls
    page = user_client.get(reverse("orders:detail", args=[coid])).content.decode()
    assert 'data-check="Covered call" data-level="block"' in page
    user_client.post(reverse("orders:confirm", args=[coid]))
    assert bridge.place_calls == 0


def test_bad_draft_parameters_are_refused(user_client, bridge):
    r = user_client.get(reverse("orders:new"), {"symbol": "<script>", "expiry": "x"}, follow=True)
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
    user_client.get(reverse("orders:detail", args=[coid]))
    page = user_client.post(reverse("orders:confirm", args=[coid]), follow=True).content.decode()
    assert "limit 0.05 is far below the bid 1.00" in page and "confirm-order" in page
    assert WebOrder.objects.get(client_order_id=coid).status == "previewed"
    bridge.refuse = None
    user_client.post(reverse("orders:confirm", args=[coid]))
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


def test_close_draft_takes_mid_and_roll_makes_two_legs(user_client, bridge):
    params = {
        "symbol": "KO",
        "expiry": EXPIRY.isoformat(),
        "strike": "60",
        "right": "P",
        "quantity": "1",
    }
    r = user_client.get(reverse("orders:close"), params)
    coid = r["Location"].rstrip("/").split("/")[-1]
    page = user_client.get(reverse("orders:detail", args=[coid])).content.decode()
    order = WebOrder.objects.get(client_order_id=coid)
    assert order.action == "BUY" and order.intent == "close"
    assert order.limit_price == Decimal("1.10")  # the what-if's mid became the limit
    assert "Debit paid" in page and "−$110.00" in page
    later = (EXPIRY + timedelta(days=28)).isoformat()
    r = user_client.get(
        reverse("orders:roll"), {**params, "new_expiry": later, "new_strike": "57.5"}
    )
    first = WebOrder.objects.get(client_order_id=r["Location"].rstrip("/").split("/")[-1])
    second = WebOrder.objects.exclude(pk=first.pk).get(roll_group=first.client_order_id)
    assert (first.action, first.intent, second.action, str(second.strike)) == (
        "BUY",
        "roll",
        "SELL",
        "57.5000",
    )
    assert second.expiry.isoformat() == later


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
    r = user_client.get(
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
    from wheeldesk_web.orders.services import refresh

    coid = draft(user_client)
    user_client.get(reverse("orders:detail", args=[coid]))
    bridge.refuse = ServiceCallError("gateway-bridge", None, "timeout", "timed out")
    user_client.post(reverse("orders:confirm", args=[coid]))
    order = WebOrder.objects.get(client_order_id=coid)
    assert order.status == "unknown"  # not in the bridge's list: not re-sent, still checking
    refresh(order, bridge)
    assert order.status == "unknown" and bridge.place_calls == 1
    WebOrder.objects.filter(pk=order.pk).update(sent_at=order.sent_at - timedelta(minutes=16))
    order.refresh_from_db()
    refresh(order, bridge)
    assert order.status == "refused" and "not placed" in order.message
    assert bridge.place_calls == 1
