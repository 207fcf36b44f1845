"""The bridge's HTTP routes (`/v1`), one APIRouter per area: `account` (connection status,
account, positions), `market` (quotes, stock info and history, option chains, the streaming
set), `orders` (single and combo orders, executions); the scanner's live in `scanner.py`.
`gateway_bridge.api.router()` puts them together under `/v1` and maps IB's errors.

Every route stays a thin wrapper: it checks its arguments (a clear 422 naming the field) and
calls one plain service of the `Bridge`. What they share is here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request
from wheeldesk.errors import ServiceError
from wheeldesk.schemas.market import SYMBOL, SYMBOL_PATTERN

from gateway_bridge.bridge import Bridge

# A path's `{symbol}`: its pattern published (checked by `one_symbol`, whose 422 names it).
SymbolPath = Annotated[
    str, Path(description="A US stock symbol.", json_schema_extra={"pattern": SYMBOL_PATTERN})
]
QUOTES_PER_REQUEST = 100
STREAMS_PER_REQUEST = 500  # SubscriptionRequest's bound; the line budget decides what streams


def bridge_of(request: Request) -> Bridge:
    """The running bridge (set by the app's lifespan)."""
    return request.app.state.bridge


def parse_symbols(raw: str, limit: int = QUOTES_PER_REQUEST) -> list[str]:
    """`KO, pep,KO` -> ["KO", "PEP"]: upper-cased, de-duplicated, each a valid symbol (spaces
    around it allowed), at most `limit`; anything else a 422 naming `symbols`. Exactly what
    `symbol_list_pattern(limit)` states in the published schema."""
    if not raw.strip(" "):
        raise ServiceError(422, "invalid", "symbols: give at least one symbol", field="symbols")
    symbols = [s.strip(" ").upper() for s in raw.split(",")]
    if len(symbols) > limit:
        raise ServiceError(422, "invalid", f"symbols: at most {limit} per request", field="symbols")
    for s in symbols:
        if not SYMBOL.fullmatch(s):
            raise ServiceError(422, "invalid", f"symbols: {s!r} is not a symbol", field="symbols")
    return list(dict.fromkeys(symbols))


def symbol_list_pattern(limit: int = QUOTES_PER_REQUEST) -> str:
    """`parse_symbols`' rule as a regular expression: 1 to `limit` symbols, comma-separated."""
    one = f" *{SYMBOL_PATTERN.removeprefix('^').removesuffix('$')} *"
    return f"^{one}(?:,{one}){{0,{limit - 1}}}$"


def one_symbol(raw: str) -> str:
    """A path's `{symbol}`, checked against the pattern its schema states, upper-cased."""
    if not SYMBOL.fullmatch(raw):
        raise ServiceError(422, "invalid", f"symbol: {raw!r} is not a symbol", field="symbol")
    return raw.upper()
