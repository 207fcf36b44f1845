"""Plain functions of the bridge, without IB or NATS: maths, limits, guards, idempotency."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from decimal import Decimal

import pytest
from bridge_helpers import await_until
from gateway_bridge.api import ib_error_to_service_error
from gateway_bridge.cache import TTLCache
from gateway_bridge.chains import bs_delta, nearest_strikes, preselect_strikes
from gateway_bridge.connection import backoff_delays, fallback_type
from gateway_bridge.events import EventPublisher
from gateway_bridge.ibvalues import num
from gateway_bridge.limits import LineBudget, QueueTimeout, RateLimiter
from gateway_bridge.orders import (
    check_live_allowed,
    check_quantity,
    fingerprint,
    limit_price_problem,
    map_status,
)
from gateway_bridge.routes import STREAMS_PER_REQUEST, parse_symbols
from gateway_bridge.settings import BridgeSettings
from wheeldesk.errors import ServiceError
from wheeldesk.schemas.common import DataType
from wheeldesk.schemas.market import Quote
from wheeldesk.schemas.orders import OrderRequest, OrderStatus
from wheeldesk.settings import ConfigError, load_settings

# ---- strike pre-selection ----------------------------------------------------------------


def test_bs_delta_matches_hand_computed_values() -> None:
    # S=K=100, σ=0.2, T=1: d1 = 0.1 → N(0.1) = 0.53983
    assert bs_delta(100, 100, 0.2, 1.0, "C") == pytest.approx(0.53983, abs=1e-4)
    assert bs_delta(100, 100, 0.2, 1.0, "P") == pytest.approx(0.53983 - 1, abs=1e-4)
    # Deep OTM put has delta near 0, deep ITM put near -1.
    assert bs_delta(100, 50, 0.2, 0.1, "P") == pytest.approx(0.0, abs=1e-6)
    assert bs_delta(100, 200, 0.2, 0.1, "P") == pytest.approx(-1.0, abs=1e-6)


def test_preselect_keeps_band_plus_one_strike_each_side() -> None:
    strikes = [float(k) for k in range(50, 151)]  # 101 strikes, $1 apart
    chosen = preselect_strikes(strikes, 100.0, 0.30, 30, "P", 0.10, 0.40)
    deltas = {k: abs(bs_delta(100, k, 0.30, 30 / 365, "P")) for k in strikes}
    inside = [k for k in strikes if 0.08 <= deltas[k] <= 0.42]
    assert chosen == [min(inside) - 1, *inside, max(inside) + 1]
    # Every chosen strike is an OTM put (below spot) and far fewer than the whole chain.
    assert max(chosen) < 100 and len(chosen) < 20
    # The band itself: 30-DTE 0.40-delta put near 97-98, 0.10-delta near 88-89.
    assert 86 <= min(chosen) <= 89 and 97 <= max(chosen) <= 99


def test_preselect_calls_sit_above_spot_and_max_strikes_caps() -> None:
    strikes = [float(k) for k in range(50, 151, 5)]
    chosen = preselect_strikes(strikes, 100.0, 0.30, 45, "C", 0.10, 0.40)
    assert all(k >= 100 for k in chosen)
    capped = preselect_strikes(strikes, 100.0, 0.30, 45, "C", 0.10, 0.40, max_strikes=2)
    assert len(capped) == 2 and set(capped) <= set(chosen)


def test_preselect_band_between_strikes_takes_nearest() -> None:
    chosen = preselect_strikes([80.0, 100.0, 120.0], 100.0, 0.2, 30, "P", 0.20, 0.21, pad=0)
    assert chosen == [100.0] or chosen == [80.0]
    assert preselect_strikes([], 100.0, 0.2, 30, "P", 0.1, 0.4) == []


def test_nearest_strikes() -> None:
    assert nearest_strikes([90, 95, 100, 105, 110], 101, 3) == [95, 100, 105]
    assert nearest_strikes([90, 95], 101, None) == [90, 95]


# ---- limits ------------------------------------------------------------------------------


async def test_rate_limiter_holds_rate() -> None:
    limiter = RateLimiter(rate=50, burst=5)
    start = time.monotonic()
    for _ in range(30):
        await limiter.acquire()
    elapsed = time.monotonic() - start
    # 5 burst tokens, then 25 more at 50/s need at least 0.5 s.
    assert elapsed >= 0.45
    assert limiter.acquired == 30


async def test_line_budget_queues_instead_of_failing_and_never_exceeds_capacity() -> None:
    budget = LineBudget(3)
    active = 0
    peak = 0

    async def use(owner: str) -> None:
        nonlocal active, peak
        async with budget.line(owner, timeout=10):
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.01)
            active -= 1

    await asyncio.gather(*(use("chain") for _ in range(30)))
    assert peak == 3
    assert budget.peak == 3
    assert budget.in_use == 0 and budget.waiting == 0


async def test_line_budget_is_fair_between_owners() -> None:
    budget = LineBudget(1)
    order: list[str] = []
    await budget.acquire("holder")

    async def use(owner: str, i: int) -> None:
        await budget.acquire(owner)
        order.append(f"{owner}{i}")
        budget.release()

    tasks = [asyncio.create_task(use("chain", i)) for i in range(5)]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(use("quote", 0)))
    await asyncio.sleep(0)
    budget.release()
    await asyncio.gather(*tasks)
    # The single quote is served right after the chain's first contract, not after all five.
    assert order.index("quote0") == 1
    assert budget.in_use == 0


async def test_line_budget_times_out_with_queue_timeout() -> None:
    budget = LineBudget(1)
    await budget.acquire()
    with pytest.raises(QueueTimeout):
        await budget.acquire("x", timeout=0.05)
    assert budget.waiting == 0
    budget.release()
    assert budget.try_acquire()


# ---- caching -----------------------------------------------------------------------------


async def test_ttl_cache_coalesces_concurrent_fetches() -> None:
    cache = TTLCache(ttl=5)
    calls = 0

    async def fetch() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.02)
        return 42

    results = await asyncio.gather(*(cache.get_or_fetch("k", fetch) for _ in range(10)))
    assert results == [42] * 10 and calls == 1
    assert await cache.get_or_fetch("k", fetch) == 42 and calls == 1


async def test_ttl_cache_does_not_cache_errors() -> None:
    cache = TTLCache(ttl=5)

    async def boom() -> int:
        raise ValueError("no")

    with pytest.raises(ValueError):
        await cache.get_or_fetch("k", boom)

    async def ok() -> int:
        return 1

    assert await cache.get_or_fetch("k", ok) == 1


def test_num_turns_ib_no_value_into_none() -> None:
    assert num(float("nan")) is None and num(-1) is None and num(None) is None
    assert num("1.5") == 1.5 and num(0) == 0.0


# ---- connection --------------------------------------------------------------------------


def test_backoff_is_exponential_and_capped() -> None:
    gen = backoff_delays(start=0.5, cap=4)
    assert [next(gen) for _ in range(6)] == [0.5, 1, 2, 4, 4, 4]


def test_fallback_to_delayed() -> None:
    assert fallback_type(DataType.LIVE) == DataType.DELAYED
    assert fallback_type(DataType.FROZEN) == DataType.DELAYED_FROZEN
    assert fallback_type(DataType.DELAYED) == DataType.DELAYED


def test_ib_errors_map_to_stable_codes() -> None:
    assert ib_error_to_service_error(200, "No security definition").status == 404
    e = ib_error_to_service_error(100, "Max rate of messages per second has been exceeded")
    assert (e.status, e.code) == (429, "ib_pacing") and e.headers == {"Retry-After": "10"}
    assert ib_error_to_service_error(162, "Historical data pacing violation").status == 429
    assert ib_error_to_service_error(201, "Order rejected").status == 422
    assert ib_error_to_service_error(504, "Not connected").status == 503
    assert ib_error_to_service_error(9999, "odd").status == 502


# ---- order guards ------------------------------------------------------------------------


def _req(**kw: object) -> OrderRequest:
    base: dict[str, object] = {
        "client_order_id": "wd-test-0001",
        "symbol": "aapl",
        "sec_type": "OPT",
        "expiry": date(2026, 12, 18),
        "strike": 180,
        "right": "P",
        "action": "SELL",
        "quantity": 1,
        "order_type": "LMT",
        "limit_price": Decimal("2.50"),
    }
    base.update(kw)
    return OrderRequest(**base)  # type: ignore[arg-type]


def test_live_account_refused_unless_allowed() -> None:
    with pytest.raises(ServiceError) as err:
        check_live_allowed("U1234567", allow_live=False)
    assert err.value.status == 403 and err.value.code == "live_account_refused"
    assert "ALLOW_LIVE_ORDERS" in err.value.message
    check_live_allowed("U1234567", allow_live=True)
    check_live_allowed("DU7654321", allow_live=False)
    with pytest.raises(ServiceError):
        check_live_allowed(None, allow_live=False)


def test_allow_live_orders_setting_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Production settings: demo mode refuses ALLOW_LIVE_ORDERS (test_account_guard).
    monkeypatch.setenv("DEMO_MODE", "false")
    monkeypatch.setenv("INTERNAL_API_TOKEN", "t" * 32)
    monkeypatch.setenv("NATS_USER", "gateway-bridge")
    monkeypatch.setenv("NATS_PASSWORD", "n" * 32)
    monkeypatch.setenv("ALLOW_LIVE_ORDERS", "true")
    assert load_settings(BridgeSettings).allow_live_orders is True
    monkeypatch.setenv("ALLOW_LIVE_ORDERS", "maybe")
    with pytest.raises(ConfigError, match="ALLOW_LIVE_ORDERS"):
        load_settings(BridgeSettings, exit_on_error=False)
    monkeypatch.delenv("ALLOW_LIVE_ORDERS")
    assert load_settings(BridgeSettings).allow_live_orders is False


def test_quantity_cap() -> None:
    check_quantity(_req(quantity=10), 10)
    with pytest.raises(ServiceError) as err:
        check_quantity(_req(quantity=11), 10)
    assert err.value.field == "quantity" and err.value.status == 422
    stock = _req(sec_type="STK", expiry=None, strike=None, right=None, quantity=1000)
    check_quantity(stock, 10)
    with pytest.raises(ServiceError):
        check_quantity(_req(sec_type="STK", quantity=1001), 10)


def test_limit_price_tolerance() -> None:
    # bid 2.40 / ask 2.60, mid 2.50, 10% of mid = 0.25 → accepted range [2.15, 2.85]
    assert limit_price_problem(_req(limit_price=Decimal("2.50")), 2.40, 2.60, 10) is None
    assert limit_price_problem(_req(limit_price=Decimal("2.15")), 2.40, 2.60, 10) is None
    problem = limit_price_problem(_req(limit_price=Decimal("1.00")), 2.40, 2.60, 10)
    assert problem is not None and "below the bid 2.4" in problem
    assert "above the ask" in (limit_price_problem(_req(limit_price=Decimal("9")), 2.4, 2.6, 10))
    # No market to compare with → no refusal (the preview warns instead).
    assert limit_price_problem(_req(limit_price=Decimal("1.00")), None, None, 10) is None


def test_fingerprint_ignores_force_and_case_but_not_contents() -> None:
    assert fingerprint(_req()) == fingerprint(_req(symbol="AAPL", force=True))
    assert fingerprint(_req()) != fingerprint(_req(quantity=2))
    assert fingerprint(_req()) != fingerprint(_req(limit_price=Decimal("2.55")))
    assert fingerprint(_req()) != fingerprint(_req(strike=175))


def test_status_mapping() -> None:
    assert map_status("Submitted", 0, False) == OrderStatus.SUBMITTED
    assert map_status("Submitted", 1, False) == OrderStatus.PARTIALLY_FILLED
    assert map_status("Filled", 1, False) == OrderStatus.FILLED
    # IB's execution arrives before its "Filled": the one completing the order is its fill.
    assert map_status("Submitted", 2, False, 2) == OrderStatus.FILLED
    assert map_status("Submitted", 1, False, 2) == OrderStatus.PARTIALLY_FILLED
    assert map_status("Cancelled", 0, True) == OrderStatus.REJECTED
    assert map_status("Cancelled", 0, False) == OrderStatus.CANCELLED
    assert map_status("PendingSubmit", 0, False) == OrderStatus.PENDING


# ---- quote coalescing --------------------------------------------------------------------


class RecordingPublisher(EventPublisher):
    def __init__(self, hz: float) -> None:
        super().__init__("nats://unused", hz)
        self.sent: list[Quote] = []

    def _send_quote(self, quote: Quote, now: float) -> None:
        self._last_sent[quote.symbol] = now
        self.sent.append(quote)


async def test_quotes_coalesce_per_symbol_latest_wins() -> None:
    pub = RecordingPublisher(hz=10)  # at most one per 100 ms per symbol
    for i in range(20):
        pub.quote(Quote(symbol="AAPL", last=100 + i))
    pub.quote(Quote(symbol="KO", last=60))
    # First AAPL tick and first KO tick go out at once; the rest wait for the window.
    assert [q.last for q in pub.sent] == [100, 60]
    await await_until(lambda: len(pub.sent) == 3, 5, "the window's one AAPL quote")
    assert [q.last for q in pub.sent] == [100, 60, 119]


def test_settlement_executions_are_classified() -> None:
    from datetime import UTC, datetime

    from gateway_bridge.orders import classify_fills
    from wheeldesk.schemas.orders import Fill

    t = datetime(2026, 12, 18, 21, 0, tzinfo=UTC)
    common = {"time": t, "account_id": "DU1"}
    fills = [
        Fill(exec_id="1", symbol="AAPL", sec_type="OPT", expiry=date(2026, 12, 18), strike=180,
             right="P", multiplier=100, side="BOT", quantity=1, price=0, **common),
        Fill(exec_id="2", symbol="AAPL", sec_type="STK", side="BOT", quantity=100, price=180,
             **common),
        Fill(exec_id="3", symbol="KO", sec_type="OPT", expiry=date(2026, 12, 18), strike=70,
             right="C", multiplier=100, side="BOT", quantity=1, price=0, **common),
        Fill(exec_id="4", symbol="MSFT", sec_type="OPT", expiry=date(2026, 12, 18), strike=400,
             right="C", multiplier=100, side="SLD", quantity=1, price=0, **common),
        Fill(exec_id="5", symbol="MSFT", sec_type="STK", side="BOT", quantity=100, price=400,
             **common),
        Fill(exec_id="6", order_id=7, client_order_id="wd-1", symbol="PEP", sec_type="STK",
             side="BOT", quantity=100, price=150, **common),
    ]  # fmt: skip
    kinds = {f.exec_id: f.kind for f in classify_fills(fills)}
    assert kinds == {
        "1": "assignment",
        "2": "assignment",
        "3": "expiration",
        "4": "exercise",
        "5": "exercise",
        "6": "trade",
    }


def test_symbol_lists_cap_quotes_at_100_but_streams_at_500() -> None:
    many = ",".join(f"S{n:03d}" for n in range(200))
    with pytest.raises(ServiceError) as exc:
        parse_symbols(many)  # /v1/quotes: 100 snapshots per request at most
    assert exc.value.status == 422 and "at most 100" in exc.value.message
    streamed = parse_symbols(many + ",s000", STREAMS_PER_REQUEST)  # /v1/subscriptions
    assert len(streamed) == 200 and streamed[0] == "S000"
