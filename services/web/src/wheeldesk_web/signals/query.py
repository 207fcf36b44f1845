"""Filtering and sorting the signals table by any column (from the page's query string)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import QueryDict

from wheeldesk_web.signals.models import Signal

# column key -> (label, model field, numeric?)
COLUMNS: dict[str, tuple[str, str, bool]] = {
    "symbol": ("Symbol", "symbol", False),
    "tier": ("Tier", "tier", False),
    "apy": ("APY % (simple)", "apy", True),
    "pop": ("P(OTM) %", "pop", True),
    "prob_profit": ("P(profit) %", "prob_profit", True),
    "kind": ("Kind", "kind", False),
    "expiry": ("Expiry", "expiry", False),
    "strike": ("Strike", "strike", True),
    "underlying": ("Underlying", "underlying_price", True),
    "otm": ("% OTM", "distance_pct", True),
    "bid": ("Bid / ask", "bid", True),
    "oi": ("OI / vol", "open_interest", True),
    "events": ("Earnings / ex-div", "earnings_before_expiry", False),
    "premium": ("Premium", "premium", True),
    "delta": ("|Δ|", "abs_delta", True),
    "dte": ("DTE", "dte", True),
    "yield": ("Yield %", "yield_pct", True),
    "breakeven": ("Breakeven", "breakeven", True),
    "spread": ("Spread %", "spread_pct", True),
    "iv": ("IV %", "iv", True),
    "iv_rank": ("IV rank", "iv_rank", True),
    "score": ("Score", "score", True),
    "status": ("Status", "status", False),
}
# Columns stored as a fraction but shown (and filtered) in percent: typing 30 in the IV %
# filter means 30 %, like the "35.0%" the column shows, so the bound is divided by this.
STORED_SCALE = {"iv": 100.0}
CHOICE_FILTERS = {"kind": "kind", "tier": "tier", "status": "status"}
NUMERIC = [k for k, (_, _, numeric) in COLUMNS.items() if numeric]
DEFAULT_SORT = "-score"


@dataclass
class SignalQuery:
    params: QueryDict
    sort: str = DEFAULT_SORT
    filters: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, params: QueryDict) -> SignalQuery:
        query = cls(params=params)
        sort = params.get("sort", DEFAULT_SORT)
        if sort.lstrip("-") in COLUMNS:
            query.sort = sort
        for key in CHOICE_FILTERS:
            values = [v for v in params.getlist(key) if v]
            if values:
                query.filters[key] = ",".join(values)
        symbol = params.get("symbol", "").strip().upper()
        if symbol:
            query.filters["symbol"] = symbol[:12]
        for key in NUMERIC:
            for bound in ("min", "max"):
                name = f"{key}_{bound}"
                raw = params.get(name, "").strip()
                if not raw:
                    continue
                try:
                    value = float(raw)
                except ValueError:
                    value = math.nan
                if not math.isfinite(value):  # "inf" on an integer column was a 500
                    query.errors[name] = f"{COLUMNS[key][0]} {bound}: enter a number"
                    continue
                query.filters[name] = raw
        return query

    def apply(self, qs: QuerySet[Signal]) -> QuerySet[Signal]:
        for key, model_field in CHOICE_FILTERS.items():
            if key in self.filters:
                qs = qs.filter(**{f"{model_field}__in": self.filters[key].split(",")})
        if "symbol" in self.filters:
            qs = qs.filter(symbol__startswith=self.filters["symbol"])
        for key in NUMERIC:
            model_field = COLUMNS[key][1]
            scale = STORED_SCALE.get(key, 1.0)
            if f"{key}_min" in self.filters:
                low = float(self.filters[f"{key}_min"]) / scale
                qs = qs.filter(**{f"{model_field}__gte": low})
            if f"{key}_max" in self.filters:
                high = float(self.filters[f"{key}_max"]) / scale
                qs = qs.filter(**{f"{model_field}__lte": high})
        desc = self.sort.startswith("-")
        model_field = COLUMNS[self.sort.lstrip("-")][1]
        order = f"-{model_field}" if desc else model_field
        return qs.order_by(order, "-score", "pk")

    @property
    def chosen(self) -> dict[str, list[str]]:
        return {k: self.filters[k].split(",") for k in CHOICE_FILTERS if k in self.filters}

    def querystring(self, **override: str | None) -> str:
        items: list[tuple[str, str]] = []
        for key, value in self.filters.items():
            if key in CHOICE_FILTERS:
                items.extend((key, v) for v in value.split(","))
            else:
                items.append((key, value))
        sort = override.get("sort", self.sort)
        if sort and sort != DEFAULT_SORT:
            items.append(("sort", sort))
        if "scan" in self.params:
            items.append(("scan", self.params["scan"]))
        return urlencode(items)

    def headers(self) -> list[dict[str, object]]:
        out = []
        for key, (label, _, numeric) in COLUMNS.items():
            current = self.sort.lstrip("-") == key
            desc = self.sort.startswith("-")
            # First click sorts numbers high-to-low (what a trader wants: best APY first).
            next_sort = (key if desc else f"-{key}") if current else (f"-{key}" if numeric else key)
            aria = "none"
            if current:
                aria = "descending" if desc else "ascending"
            out.append(
                {
                    "key": key,
                    "label": label,
                    "numeric": numeric,
                    "aria_sort": aria,
                    "url": "?" + self.querystring(sort=next_sort),
                }
            )
        return out
