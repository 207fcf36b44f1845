"""Guards an order passes before anything reaches IB (plain functions, unit-tested): live
accounts refused unless allowed, the contract count capped, a limit far outside the market or
off the contract's tick refused, and what makes two submissions the same order."""

from __future__ import annotations

import math
from typing import Any

from wheeldesk.errors import ServiceError
from wheeldesk.schemas.orders import ComboOrderRequest, OrderRequest

from gateway_bridge.account import is_paper
from gateway_bridge.combos import combo_fingerprint


def check_live_allowed(account_id: str | None, allow_live: bool) -> None:
    if not is_paper(account_id) and not allow_live:
        raise ServiceError(
            403,
            "live_account_refused",
            f"account {account_id or '?'} is a live account; orders are refused unless "
            "ALLOW_LIVE_ORDERS=true",
        )


def check_quantity(req: OrderRequest, max_contracts: int) -> None:
    limit = max_contracts if req.sec_type == "OPT" else max_contracts * 100
    unit = "contracts" if req.sec_type == "OPT" else "shares"
    if req.quantity > limit:
        raise ServiceError(
            422,
            "quantity_too_large",
            f"{req.quantity} {unit} exceeds the per-order limit of {limit} "
            "(MAX_CONTRACTS_PER_ORDER)",
            field="quantity",
        )


def limit_price_problem(
    req: OrderRequest, bid: float | None, ask: float | None, tolerance_pct: float
) -> str | None:
    """Why a limit price is too far outside the market, or None when it is acceptable."""
    if req.order_type != "LMT" or req.limit_price is None:
        return None
    if bid is None or ask is None or ask <= 0:
        return None
    price = float(req.limit_price)
    mid = (bid + ask) / 2
    slack = mid * tolerance_pct / 100.0
    if price < bid - slack:
        return f"limit {price:g} is below the bid {bid:g} by more than {tolerance_pct:g}% of mid"
    if price > ask + slack:
        return f"limit {price:g} is above the ask {ask:g} by more than {tolerance_pct:g}% of mid"
    return None


def off_tick_problem(price: float, increments: list[tuple[float, float]]) -> str | None:
    """Why `price` is off the tick of a market rule ((lowEdge, increment) pairs), or None."""
    steps = [inc for edge, inc in sorted(increments) if price >= edge - 1e-9]
    if not steps:
        return None
    tick = steps[-1]
    n = price / tick
    if abs(n - round(n)) < 1e-6:
        return None
    low, high = math.floor(n) * tick, math.ceil(n) * tick
    return (
        f"{price:.2f} is not on the ${tick:.2f} tick for this contract: use {low:.2f} or {high:.2f}"
    )


def fingerprint(req: OrderRequest | ComboOrderRequest) -> tuple[Any, ...]:
    """What makes two submissions the same order (force and ids excluded)."""
    if isinstance(req, ComboOrderRequest):
        return combo_fingerprint(req)
    opt = req.sec_type == "OPT"
    return (
        req.symbol.upper(),
        req.sec_type,
        req.expiry if opt else None,
        float(req.strike) if opt and req.strike is not None else None,
        req.right if opt else None,
        req.action,
        int(req.quantity),
        req.order_type,
        round(float(req.limit_price), 4) if req.limit_price is not None else None,
        req.tif,
    )
