"""Keeping the Stock and Option rows in step with what the bridge reports."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone
from wheeldesk.schemas.account import Account, Position
from wheeldesk.schemas.market import Chain, History, OptionQuote, Quote, StockInfo

from wheeldesk_web.market.models import AccountSnapshot, Option, Stock


def _quote_fields(quote: Quote) -> dict[str, object]:
    return {
        "price": quote.price,
        "bid": quote.bid,
        "ask": quote.ask,
        "close": quote.close,
        "market_data_type": quote.market_data_type.value,
        "quote_ts": quote.ts,
    }


def upsert_stock(info: StockInfo) -> Stock:
    f = info.fundamentals
    stock, _ = Stock.objects.update_or_create(
        symbol=info.symbol.upper(),
        defaults={
            "name": info.name or "",
            "sector": info.sector or "",
            "conid": info.conid,
            "beta": f.beta,
            "roe": f.roe,
            "free_cash_flow": f.free_cash_flow,
            "market_cap": f.market_cap,
            "dividend_yield": f.dividend_yield,
            "pe_ratio": f.pe_ratio,
            "next_earnings": f.next_earnings,
            "simulated": info.simulated,
            **_quote_fields(info.quote),
        },
    )
    return stock


def on_stock_checked(sender: Any, *, info: StockInfo, **kwargs: Any) -> None:
    """`watchlist.hooks.checked`: IBKR confirmed a symbol being added; keep what it said."""
    upsert_stock(info)


def stocks_by_symbol(symbols: list[str]) -> dict[str, Stock]:
    """The watchlist page's stock rows (`watchlist.hooks.stocks`)."""
    return {s.symbol: s for s in Stock.objects.filter(symbol__in=symbols)}


def update_quotes(quotes: Iterable[Quote]) -> int:
    count = 0
    for quote in quotes:
        count += Stock.objects.filter(symbol=quote.symbol.upper()).update(
            **_quote_fields(quote), updated=timezone.now()
        )
    return count


def store_history(symbol: str, history: History) -> None:
    Stock.objects.filter(symbol=symbol.upper()).update(
        history=[[b.date.isoformat(), b.close] for b in history.bars],
        history_updated=timezone.now(),
    )


def _option_fields(q: OptionQuote) -> dict[str, object]:
    return {
        "multiplier": q.contract.multiplier,
        "conid": q.contract.conid,
        "bid": q.bid,
        "ask": q.ask,
        "last": q.last,
        "volume": q.volume,
        "open_interest": q.open_interest,
        "iv": q.iv,
        "delta": q.delta,
        "gamma": q.gamma,
        "theta": q.theta,
        "vega": q.vega,
        "underlying_price": q.underlying_price,
        "greeks_source": q.greeks_source,
        "market_data_type": q.market_data_type.value,
        "quote_ts": q.ts,
    }


def store_chain(chain: Chain) -> int:
    for q in chain.options:
        c = q.contract
        Option.objects.update_or_create(
            symbol=c.symbol.upper(),
            expiry=c.expiry,
            strike=c.strike,
            right=c.right,
            defaults=_option_fields(q),
        )
    return len(chain.options)


def store_account(account: Account, positions: list[Position]) -> AccountSnapshot:
    snapshot, _ = AccountSnapshot.objects.update_or_create(
        account_id=account.account_id,
        defaults={
            "account": account.model_dump(mode="json"),
            "positions": [p.model_dump(mode="json") for p in positions],
            "taken": account.ts,
        },
    )
    return snapshot


def last_account() -> tuple[Account, list[Position]] | None:
    snapshot = AccountSnapshot.objects.first()
    if snapshot is None:
        return None
    return (
        Account.model_validate(snapshot.account),
        [Position.model_validate(p) for p in snapshot.positions],
    )
