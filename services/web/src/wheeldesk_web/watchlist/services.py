"""Watchlist rules: symbols are normalised, validated through the bridge, never duplicated."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from wheeldesk.clients import ServiceCallError

from wheeldesk_web.core import clients
from wheeldesk_web.watchlist import hooks
from wheeldesk_web.watchlist.models import NOTES_MAX, Watchlist, WatchlistItem

SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")
IMPORT_MAX = 200


class WatchlistError(Exception):
    """A symbol could not be added; the message is shown to the user as is."""


def normalise_symbol(raw: str) -> str:
    symbol = (raw or "").strip().upper()
    if not symbol:
        raise WatchlistError("Enter a ticker symbol.")
    if not SYMBOL_RE.match(symbol):
        raise WatchlistError(f"“{symbol[:20]}” is not a ticker symbol (letters, digits, . or -).")
    return symbol


def default_watchlist(user: Any) -> Watchlist:
    watchlist = Watchlist.objects.filter(user=user, is_default=True).first()
    if watchlist is None:
        watchlist = Watchlist.objects.filter(user=user).first()
    if watchlist is None:
        watchlist, _ = Watchlist.objects.get_or_create(
            user=user, name="Main", defaults={"is_default": True}
        )
    return watchlist


def validate_with_bridge(symbol: str) -> None:
    """Ask the bridge whether IBKR knows the symbol; store what it told us."""
    try:
        with clients.bridge(timeout=10.0) as bridge:
            info = bridge.stock(symbol)
    except ServiceCallError as exc:
        if exc.unavailable:
            raise WatchlistError(
                f"Could not check {symbol}: IBKR is not reachable right now. Try again shortly."
            ) from exc
        if exc.status in (400, 404, 422):
            raise WatchlistError(f"Unknown ticker {symbol}: IBKR has no such stock.") from exc
        raise WatchlistError(f"Could not check {symbol}: {exc.message}") from exc
    hooks.checked.send(sender=WatchlistItem, info=info)  # market stores the stock row


def add_symbol(watchlist: Watchlist, raw: str, notes: str = "") -> WatchlistItem:
    symbol = normalise_symbol(raw)
    if len(notes) > NOTES_MAX:
        raise WatchlistError(f"Notes are limited to {NOTES_MAX} characters.")
    if watchlist.items.filter(symbol=symbol).exists():
        raise WatchlistError(f"{symbol} is already on {watchlist.name}.")
    validate_with_bridge(symbol)
    try:
        with transaction.atomic():
            return WatchlistItem.objects.create(watchlist=watchlist, symbol=symbol, notes=notes)
    except IntegrityError as exc:
        raise WatchlistError(f"{symbol} is already on {watchlist.name}.") from exc


@dataclass
class ImportResult:
    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def split_symbols(text: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"[,\n\r;\t ]+", text or "")]
    seen: list[str] = []
    for part in parts:
        if part and part.upper() not in seen:
            seen.append(part.upper())
    return seen


def import_symbols(watchlist: Watchlist, text: str) -> ImportResult:
    result = ImportResult()
    symbols = split_symbols(text)
    if len(symbols) > IMPORT_MAX:
        raise WatchlistError(f"Import at most {IMPORT_MAX} tickers at a time.")
    for raw in symbols:
        try:
            add_symbol(watchlist, raw)
            result.added.append(raw)
        except WatchlistError as exc:
            result.skipped.append(str(exc))
    return result
