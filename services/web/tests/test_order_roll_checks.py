"""A roll gets every pre-trade check a single order gets, on what the roll does: the leg being
closed counts as freed (collateral, covered call, concentration, cash reserve), the new leg is
capped and checked for events, both legs for working orders, and the net limit against the
combo's own market. Confirm runs them again. Numbers worked by hand in each test."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from wheeldesk.schemas.account import Account, Position
from wheeldesk.schemas.orders import ComboLeg, ComboOrderRequest, ComboPreview
from wheeldesk_testing.moments import SIM_START
from wheeldesk_web.orders import rolls
from wheeldesk_web.orders.checks import Limits
from wheeldesk_web.orders.models import Order, TradingConfig
from wheeldesk_web.orders.roll_checks import roll_checks
from wheeldesk_web.orders.services import OrderRefused

pytestmark = pytest.mark.django_db
TODAY = SIM_START.date()
HELD = TODAY + timedelta(days=10)
LATER = TODAY + timedelta(days=38)
ACCT = "DU7654321"


def account(cash: float = 100_000, nlv: float = 200_000) -> Account:
    return Account(
        account_id=ACCT,
        is_paper=True,
        net_liquidation=nlv,
        cash=cash,
        buying_power=cash,
        available_funds=cash,
    )


def short(right: str, strike: float, quantity: int = -1) -> Position:
    return Position(
        account_id=ACCT,
        symbol="KO",
        sec_type="OPT",
        quantity=quantity,
        avg_cost=100,
        expiry=HELD,
        strike=strike,
        right=right,  # type: ignore[arg-type]
        multiplier=100,
    )


def shares(n: int) -> Position:
    return Position(
        account_id=ACCT, symbol="KO", sec_type="STK", quantity=n, avg_cost=60, market_value=n * 64
    )


def roll(
    right: str = "P", old: float = 60, new: float = 60, limit: str = "-0.50", quantity: int = 1
) -> Order:
    """A roll draft (BUY the combo: buy back `old` expiring HELD, sell `new` expiring LATER)."""
    legs = [
        ComboLeg(expiry=HELD, strike=old, right=right, action="BUY"),  # type: ignore[arg-type]
        ComboLeg(expiry=LATER, strike=new, right=right, action="SELL"),  # type: ignore[arg-type]
    ]
    return Order.objects.create(
        intent="roll",
        symbol="KO",
        sec_type="BAG",
        expiry=LATER,
        strike=D(str(new)),
        right=right,
        action="BUY",
        quantity=quantity,
        limit_price=D(limit),
        legs=[leg.model_dump(mode="json") for leg in legs],
    )


def combo_market(bid: float = -0.60, ask: float = -0.40) -> ComboPreview:
    req = ComboOrderRequest(
        client_order_id="wd-roll-checks",
        symbol="KO",
        legs=[
            ComboLeg(expiry=HELD, strike=60, right="P", action="BUY"),
            ComboLeg(expiry=LATER, strike=60, right="P", action="SELL"),
        ],
        action="BUY",
        quantity=1,
        limit_price=D("-0.50"),
    )
    return ComboPreview(
        request=req,
        account_id=ACCT,
        is_paper=True,
        commission=2.0,
        bid=bid,
        ask=ask,
        mid=round((bid + ask) / 2, 4),
    )


def checks(order: Order, **kw) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    args = {
        "preview": combo_market(),
        "account": account(),
        "positions": [short("P", 60)],
        "working": [],
        "bridge_orders": [],
        "limits": Limits(),
        "earnings": None,
        "ex_dividend": None,
        "today": TODAY,
        **kw,
    }
    return {c.name: (c.level, c.message) for c in roll_checks(order, **args)}


def test_collateral_counts_the_put_being_closed_as_freed() -> None:
    # cash 6,100; the held 60P secures 6,000: capacity 100 today, 6,100 once it is bought back.
    poor = account(cash=6_100)
    same = checks(roll(new=60), account=poor)["Collateral"]
    assert same[0] == "pass"  # 6,000 needed, 6,100 free after the close
    up = checks(roll(new=62), account=poor)["Collateral"]
    assert up == (
        "block",
        "Collateral $6,200.00 exceeds the cash-secured capacity $6,100.00 "
        "(cash less the puts already short or working).",
    )


def test_a_covered_call_roll_is_covered_by_the_shares_the_closed_call_frees() -> None:
    held = [shares(100), short("C", 65)]
    assert checks(roll("C", 65, 66), positions=held)["Covered call"][0] == "pass"
    two = checks(roll("C", 65, 66, quantity=2), positions=[shares(100), short("C", 65, -2)])
    assert two["Covered call"][0] == "block"  # 2 calls need 200 shares: 100 held


def test_net_limit_against_the_combos_market() -> None:
    # combo bid/mid/ask -0.60 / -0.50 / -0.40 (a credit): IB's sign, BUY the combo
    assert checks(roll(limit="-0.48"))["Limit vs mid"][0] == "pass"  # 4 % off the mid
    level, message = checks(roll(limit="-0.30"))["Limit vs mid"]  # 0.20 less credit than mid
    assert level == "warn" and "gives up 40.0% versus the combo's mid" in message
    level, message = checks(roll(limit="0.30"))["Limit vs mid"]  # a debit: far outside
    assert level == "block" and "160.0% from the combo's mid" in message


def test_caps_look_at_the_new_leg() -> None:
    assert checks(roll(quantity=11), positions=[short("P", 60, -11)])["Size caps"] == (
        "block",
        "Quantity above the per-order cap.",
    )
    notional = checks(roll(new=120), limits=Limits(max_notional=D("10000")))["Size caps"]
    assert notional == ("block", "Notional above the per-order cap.")  # 120 x 100 = 12,000


def test_a_working_order_on_either_leg_blocks() -> None:
    closing = [("KO", "P", D("60"), HELD, "BUY 1 KO 60P submitted")]
    assert checks(roll(), working=closing)["One working order"] == (
        "block",
        "An order on this contract is still working (BUY 1 KO 60P submitted); cancel it first.",
    )
    opening = [("KO", "P", D("62"), LATER, "SELL 1 KO 62P submitted")]
    assert checks(roll(new=62), working=opening)["One working order"][0] == "block"
    assert checks(roll())["One working order"][0] == "pass"


def test_concentration_counts_the_closed_leg_once() -> None:
    # NLV 30,000; KO today: the 60P short = 6,000 (20 %). After the roll to 62: 6,200 = 20.7 %,
    # not 6,000 + 6,200 = 40.7 %.
    level, _ = checks(roll(new=62), account=account(nlv=30_000))["Concentration"]
    assert level == "pass"
    found = roll_checks(
        roll(new=62),
        preview=combo_market(),
        account=account(nlv=30_000),
        positions=[short("P", 60)],
        working=[],
        bridge_orders=[],
        limits=Limits(),
        earnings=None,
        ex_dividend=None,
        today=TODAY,
    )
    [conc] = [c for c in found if c.name == "Concentration"]
    assert conc.numbers["share"] == "20.7% (limit 25%)"


def test_cash_reserve_counts_the_credit_and_the_freed_collateral() -> None:
    # cash 6,100, nothing else secured after the close; credit 1.50 x 100 = +150;
    # new collateral 6,200: free after = 6,100 + 150 - 6,200 = 50 (under the 10 % reserve).
    level, message = checks(roll(new=62, limit="-1.50"), account=account(cash=6_100))[
        "Cash reserve"
    ]
    assert (level, message) == ("warn", "Free cash after the trade is below the reserve.")
    debit = checks(roll(new=62, limit="0.50"), account=account(cash=6_100))["Cash reserve"]
    assert debit == ("block", "Not enough cash to secure this order.")  # 6,100 - 50 - 6,200


def test_events_before_the_new_expiry_and_the_trading_switch() -> None:
    earnings = TODAY + timedelta(days=20)  # after the held expiry, before the new one
    level, message = checks(roll(), earnings=earnings)["Earnings / dividend"]
    assert level == "warn" and f"earnings {earnings:%Y-%m-%d} before expiry {LATER}" in message
    assert checks(roll(), limits=Limits(trading_enabled=False))["Trading switch"][0] == "block"


class RollBridge:
    """The bridge calls a roll's preview makes, with what IB would answer."""

    def __init__(self, positions: list[Position], warnings: list[str] | None = None) -> None:
        self._positions, self.warnings, self.placed = positions, warnings or [], 0

    def preview_combo(self, req: ComboOrderRequest) -> ComboPreview:
        p = combo_market()
        return p.model_copy(update={"request": req, "warnings": self.warnings})

    def account(self) -> Account:
        return account()

    def positions(self) -> list[Position]:
        return self._positions

    def orders(self) -> list:
        return []

    def stock(self, symbol: str):  # type: ignore[no-untyped-def]
        from wheeldesk.schemas.market import Fundamentals, Quote, StockInfo

        return StockInfo(symbol=symbol, quote=Quote(symbol=symbol), fundamentals=Fundamentals())

    def place_combo(self, req: ComboOrderRequest):  # type: ignore[no-untyped-def]
        self.placed += 1
        raise AssertionError("a blocked roll must not be placed")


def test_preview_stores_every_check_and_confirm_runs_them_again() -> None:
    bridge = RollBridge([short("P", 60)])
    order = roll(quantity=1)
    rolls.run_preview(order, bridge)  # type: ignore[arg-type]
    names = [c["name"] for c in order.checks]
    assert names == [
        "What-if",
        "Trading switch",
        "Collateral",
        "Covered call",
        "Limit vs mid",
        "Size caps",
        "One working order",
        "Concentration",
        "Cash reserve",
        "Earnings / dividend",
    ]
    assert not [c for c in order.checks if c["level"] == "block"]
    # The cap lowered between the preview and the confirm: confirm checks again, sends nothing.
    cfg = TradingConfig.load()
    cfg.max_contracts = 0
    cfg.save()
    user = get_user_model().objects.create_user("roller", "r@example.com", "pw-123456-xyz")
    with pytest.raises(OrderRefused, match="Quantity above the per-order cap"):
        rolls.confirm(order, bridge, user, ticket=order.ticket_digest())  # type: ignore[arg-type]
    assert bridge.placed == 0 and Order.objects.get(pk=order.pk).is_draft


def test_the_bridges_live_account_refusal_blocks_a_roll() -> None:
    warned = RollBridge([short("P", 60)], ["live account: placing this order will be refused"])
    order = roll()
    rolls.run_preview(order, warned)  # type: ignore[arg-type]
    assert {"name": "Bridge", "level": "block"}.items() <= next(
        c for c in order.checks if c["name"] == "Bridge"
    ).items()
