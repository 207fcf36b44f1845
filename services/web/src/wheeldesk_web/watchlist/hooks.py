"""What the watchlist tells, and asks of, the apps above it, which connect here at start-up.

The watchlist sits below `market` in the app layers (docs/architecture.md, "Web apps"), so it
imports no `market` code; `MarketConfig.ready` connects the receivers and the stock lookup:

- `changed`: sent after a request changed which tickers are on the watchlists (market re-sends
  the bridge's streaming set);
- `checked`: sent with `info=` the `StockInfo` IBKR answered for a symbol being added (market
  stores its stock row);
- `stocks(symbols)`: the stored stock rows (name, last price) the watchlist page shows beside
  its tickers, by symbol; none until an app registers a lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.dispatch import Signal

changed = Signal()
checked = Signal()

StockLookup = Callable[[list[str]], dict[str, Any]]
_lookup: list[StockLookup] = []


def register_stock_lookup(lookup: StockLookup) -> None:
    _lookup[:] = [lookup]


def stocks(symbols: Iterable[str]) -> dict[str, Any]:
    return _lookup[0](list(symbols)) if _lookup else {}
