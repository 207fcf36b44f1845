"""Pre-trade checks as plain functions: each level with the numbers a trader would read."""

from datetime import date
from decimal import Decimal as D

from web_factories import option_position, stock_position
from wheeldesk.schemas.account import Account
from wheeldesk.schemas.orders import OrderPreview, OrderRequest
from wheeldesk_web.orders.checks import Limits, Ticket, blocked, run_checks

TODAY = date(2026, 11, 26)
ACCOUNT = Account(
    account_id="DU7654321",
    is_paper=True,
    net_liquidation=250_000,
    cash=200_000,
    buying_power=180_000,
    available_funds=180_000,
)
POSITIONS = [
    stock_position("KO", 200, market_value=12_800),  # at 60.00
    option_position("AAPL", -1, avg_cost=300, expiry=date(2026, 12, 18), strike=220),
]


def preview(ticket: Ticket, bid=1.00, ask=1.20, bp=180_000) -> OrderPreview:
    req = OrderRequest(
        client_order_id="wd-test-0001",
        symbol=ticket.symbol,
        expiry=ticket.expiry,
        strike=float(ticket.strike),
        right=ticket.right,
        action=ticket.action,
        quantity=ticket.quantity,
        limit_price=ticket.limit_price,
    )
    return OrderPreview(
        request=req,
        account_id="DU7654321",
        is_paper=True,
        bid=bid,
        ask=ask,
        mid=(bid + ask) / 2,
        buying_power_before=bp,
    )


def checks(t: Ticket, **kw):
    args = dict(
        preview=preview(t),
        account=ACCOUNT,
        positions=POSITIONS,
        working=[],
        limits=Limits(),
        today=TODAY,
    )
    args.update(kw)
    return {c.name: c for c in run_checks(t, **args)}


def sell(right: str, qty: int, strike: str, limit: str, symbol: str = "KO") -> Ticket:
    return Ticket(
        symbol=symbol,
        action="SELL",
        quantity=qty,
        limit_price=D(limit),
        right=right,
        strike=D(strike),
        expiry=date(2026, 12, 18),
    )


def put(qty=1, strike="60", limit="1.10", symbol="KO") -> Ticket:
    return sell("P", qty, strike, limit, symbol)


def call(qty=1, strike="70", limit="1.10") -> Ticket:
    return sell("C", qty, strike, limit)


def test_a_reasonable_put_passes_everything():
    result = checks(put())
    assert {c.level for c in result.values()} == {"pass"}
    assert result["Collateral"].numbers == {
        "collateral": "$6,000.00",
        "buying power": "$180,000.00",
        "left after": "$174,000.00",
    }


def test_collateral_beyond_buying_power_blocks():
    t = put(qty=4, strike="500")  # 4 × 500 × 100 = 200,000 > 180,000
    c = checks(t, limits=Limits(max_notional=D("1e7")))["Collateral"]
    assert c.level == "block" and "$200,000.00 exceeds buying power $180,000.00" in c.message


def test_never_a_naked_call():
    assert checks(call(qty=2))["Covered call"].level == "pass"  # 200 shares cover 2
    c = checks(call(qty=3))["Covered call"]
    assert c.level == "block" and "never sells a naked call" in c.message
    assert c.numbers["shares held"] == "200" and c.numbers["needed"] == "300"
    with_short = [
        *POSITIONS,
        option_position("KO", -2, avg_cost=50, right="C", strike=65, expiry=date(2026, 12, 18)),
    ]
    assert checks(call(qty=1), positions=with_short)["Covered call"].level == "block"


def test_limit_band_around_mid():
    # mid 1.10: selling at 0.95 gives up 13.6% → warn; at 0.50 is 54.5% away → block
    assert checks(put(limit="1.10"))["Limit vs mid"].level == "pass"
    warn = checks(put(limit="0.95"))["Limit vs mid"]
    assert warn.level == "warn" and warn.numbers["away from mid"] == "-13.6%"
    assert checks(put(limit="0.50"))["Limit vs mid"].level == "block"
    assert checks(put(limit="1.25"))["Limit vs mid"].level == "pass"  # better than mid for a seller


def test_caps_working_orders_concentration_reserve_and_events():
    assert checks(put(qty=11))["Size caps"].level == "block"
    working = [("KO", "P", D("60"), date(2026, 12, 18), "SELL 1 KO 60P submitted")]
    assert checks(put(), working=working)["One working order"].level == "block"
    # KO: 12,800 shares + 8 × 60 × 100 = 48,000 collateral → 60,800 / 250,000 = 24.3% < 25%
    assert checks(put(qty=8))["Concentration"].level == "pass"
    # 9 contracts: 12,800 + 54,000 = 66,800 → 26.7% → warn
    conc = checks(put(qty=9))["Concentration"]
    assert conc.level == "warn" and conc.numbers["share"] == "26.7% (limit 25%)"
    # cash 200,000 − 22,000 (AAPL put) − 10 × 170 × 100 + 1,100 premium = 9,100 < 25,000 reserve
    res = checks(
        put(qty=10, strike="170"), limits=Limits(max_notional=D("1e7"), concentration_pct=D(100))
    )["Cash reserve"]
    assert res.level == "warn" and res.numbers["free cash after"] == "$9,100.00"
    ev = checks(put(), earnings=date(2026, 12, 10))["Earnings / dividend"]
    assert ev.level == "warn" and "earnings 2026-12-10 before expiry 2026-12-18" in ev.message


def test_trading_switch_blocks_everything():
    result = checks(put(), limits=Limits(trading_enabled=False))
    assert result["Trading switch"].level == "block"
    assert blocked(list(result.values()))


def test_a_limit_inside_a_wide_market_is_never_blocked():
    cheap = put(limit="0.09")
    p = preview(cheap, bid=0.03, ask=0.09)  # mid 0.06: the ask is +50% from mid
    c = checks(cheap, preview=p)["Limit vs mid"]
    assert c.level == "pass"
    c = checks(put(limit="0.03"), preview=p)["Limit vs mid"]
    assert c.level == "warn" and c.numbers["away from mid"] == "-50.0%"
    c = checks(put(limit="0.15"), preview=p)["Limit vs mid"]
    assert c.level == "block"  # beyond the ask and 150% from mid
