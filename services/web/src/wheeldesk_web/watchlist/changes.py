"""`changed`: sent after a request changed which tickers are on the watchlists.

The apps above the watchlist connect to it (market streams the tickers' quotes), so the
watchlist imports none of them.
"""

from __future__ import annotations

from django.dispatch import Signal

changed = Signal()
