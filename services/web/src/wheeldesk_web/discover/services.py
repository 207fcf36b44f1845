"""Discovery beyond the watchlist: IB's market scanners, then the wheel screen on what they find.

One IB scanner subscription per idea (through the bridge) instead of an option chain per
symbol: the ranked names that come back are added to a watchlist or handed straight to the
signals app's scan (its own services, so the "why" and "why not" are the same as a watchlist
scan's).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from wheeldesk.clients import ServiceCallError
from wheeldesk.schemas.scanner import MarketScanRequest, MarketScanResult, ScannerParameters

from wheeldesk_web.core import clients
from wheeldesk_web.discover.models import NAME_MAX, SavedDiscovery
from wheeldesk_web.market.streaming import push_streaming_set
from wheeldesk_web.signals.models import ScanRun
from wheeldesk_web.signals.services import create_scan, execute_scan, start_in_background
from wheeldesk_web.watchlist.models import Watchlist
from wheeldesk_web.watchlist.services import WatchlistError, add_symbol, normalise_symbol

log = logging.getLogger(__name__)
SESSION_KEY = "discover_result"
MAX_SYMBOLS = 50  # IB's rows per scan: more never come from one discovery


@dataclass(frozen=True)
class Idea:
    """A ready discovery for wheel traders: one IB scan code with its filters."""

    key: str
    title: str
    why: str
    scan_code: str
    filters: dict[str, float]
    rows: int = 20


IDEAS: list[Idea] = [
    Idea(
        "iv-over-hist",
        "Liquid optionable stocks $20–$200 with high IV over historical",
        "Options priced richer than the stock has moved: premium to sell, on shares a "
        "wheel can afford, with option volume enough for fair fills.",
        "HIGH_OPT_IMP_VOLAT_OVER_HIST",
        {"priceAbove": 20, "priceBelow": 200, "avgOptVolumeAbove": 1000},
    ),
    Idea(
        "active-options-large",
        "Most active options, large caps",
        "Where the option volume is today among companies above $10B: tight spreads, easy rolls.",
        "OPT_VOLUME_MOST_ACTIVE",
        {"marketCapAbove1e6": 10000},
    ),
    Idea(
        "high-iv-midcaps",
        "Highest IV, companies above $2B and $10",
        "The fattest premiums without penny stocks or micro caps.",
        "HIGH_OPT_IMP_VOLAT",
        {"marketCapAbove1e6": 2000, "priceAbove": 10},
    ),
    Idea(
        "iv-gainers",
        "Biggest IV gain today, $10–$150",
        "Implied volatility jumping today: check the news (earnings?) before selling.",
        "TOP_OPT_IMP_VOL_GAIN",
        {"priceAbove": 10, "priceBelow": 150},
    ),
]
IDEAS_BY_KEY = {i.key: i for i in IDEAS}


class DiscoverError(Exception):
    """A discovery could not run; the message is one line a user can act on; `field` names
    the request field IB or the bridge refused, when it is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _failure(exc: ServiceCallError, what: str) -> DiscoverError:
    if exc.unavailable or exc.status == 503:
        return DiscoverError(f"{what}: IBKR is not reachable right now. Try again shortly.")
    if exc.status == 429:
        return DiscoverError(f"{what}: IBKR is busy ({exc.message}). Try again in a few seconds.")
    return DiscoverError(f"{what}: {exc.message}", exc.field)


def parameters() -> ScannerParameters:
    """IB's scan codes, locations and filters (the bridge caches them per trading day)."""
    try:
        with clients.bridge(timeout=20.0) as bridge:
            return bridge.scanner_parameters()
    except ServiceCallError as exc:
        raise _failure(exc, "Could not load IBKR's scanners") from exc


def run(request: MarketScanRequest) -> MarketScanResult:
    """One IB market scan with the rows' details (name, sector, price, market cap)."""
    try:
        with clients.bridge(timeout=120.0) as bridge:
            return bridge.run_scanner(request)
    except ServiceCallError as exc:
        raise _failure(exc, "The scan did not run") from exc


def idea_request(idea: Idea) -> MarketScanRequest:
    return MarketScanRequest(scan_code=idea.scan_code, filters=idea.filters, rows=idea.rows)


@dataclass
class Last:
    """The last discovery a user ran: what was asked, and what IB answered."""

    title: str
    request: MarketScanRequest
    result: MarketScanResult


def remember(session: Any, last: Last) -> None:
    """Kept in the session so the page can act on the rows after a redirect."""
    session[SESSION_KEY] = {
        "title": last.title,
        "request": last.request.model_dump(mode="json"),
        "result": last.result.model_dump(mode="json"),
    }


def last_result(session: Any) -> Last | None:
    stored = session.get(SESSION_KEY)
    if not stored:
        return None
    try:
        return Last(
            stored["title"],
            MarketScanRequest.model_validate(stored["request"]),
            MarketScanResult.model_validate(stored["result"]),
        )
    except (KeyError, TypeError, ValueError):
        session.pop(SESSION_KEY, None)
        return None


def _money(value: float | None) -> str:
    if value is None:
        return "—"
    for size, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if value >= size:
            return f"${value / size:.1f}{unit}"
    return f"${value:,.0f}"


def row_views(result: MarketScanResult) -> list[dict[str, Any]]:
    """What the results table shows per row, formatted once here rather than in the template."""
    return [
        {
            "rank": r.rank + 1,  # IB ranks from 0; people count from 1
            "symbol": r.symbol,
            "name": r.name or "",
            "sector": r.sector or "—",
            "price": f"{r.price:,.2f}" if r.price is not None else "—",
            "market_cap": _money(r.market_cap),
            "iv": f"{100 * r.implied_volatility:.1f}%" if r.implied_volatility else "—",
            "earnings": r.next_earnings.isoformat() if r.next_earnings else "—",
            "distance": r.distance,
        }
        for r in result.rows
    ]


def chosen_symbols(raw: list[str], result: MarketScanResult | None) -> list[str]:
    """The symbols a user ticked, each one of the last discovery's rows (never anything else)."""
    if result is None:
        raise DiscoverError("Run a discovery first: its results are gone.")
    found = {r.symbol for r in result.rows}
    out: list[str] = []
    for item in raw[: MAX_SYMBOLS * 2]:
        try:
            symbol = normalise_symbol(item)
        except WatchlistError as exc:
            raise DiscoverError(str(exc), "symbol") from exc
        if symbol not in found:
            raise DiscoverError(f"{symbol} is not among the discovery's results.", "symbol")
        if symbol not in out:
            out.append(symbol)
    if not out:
        raise DiscoverError("Tick at least one symbol (or use “all”).", "symbol")
    return out[:MAX_SYMBOLS]


@dataclass
class Added:
    added: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def add_to_watchlist(watchlist: Watchlist, symbols: list[str]) -> Added:
    """Each symbol through the watchlist's own rules (IBKR checks it, no duplicates)."""
    out = Added()
    have = set(watchlist.symbols())
    for symbol in symbols:
        if symbol in have:
            out.already.append(symbol)
            continue
        try:
            add_symbol(watchlist, symbol)
        except WatchlistError as exc:
            out.failed.append(str(exc))
        else:
            out.added.append(symbol)
    if out.added:
        push_streaming_set()
    return out


def screen(user: Any, symbols: list[str]) -> ScanRun:
    """The wheel screen on these symbols with the user's criteria (the signals app's scan)."""
    run_ = create_scan(user, trigger="manual", symbols=symbols)
    if run_.progress.startswith("Queued"):
        start_in_background(run_)
    return run_


def save(
    user: Any, name: str, request: MarketScanRequest, on_schedule: bool = False
) -> SavedDiscovery:
    name = name.strip()
    if not name:
        raise DiscoverError("Give the discovery a name.", "name")
    if len(name) > NAME_MAX:
        raise DiscoverError(f"Names are limited to {NAME_MAX} characters.", "name")
    saved, _ = SavedDiscovery.objects.update_or_create(
        user=user,
        name=name,
        defaults={
            "scan_code": request.scan_code,
            "location": request.location,
            "filters": request.filters,
            "rows": request.rows,
            "on_schedule": on_schedule,
        },
    )
    return saved


def saved_request(saved: SavedDiscovery) -> MarketScanRequest:
    return MarketScanRequest(
        scan_code=saved.scan_code,
        location=saved.location,
        filters=saved.filters,
        rows=saved.rows,
    )


def record_run(saved: SavedDiscovery, result: MarketScanResult) -> list[str]:
    """Store what a saved discovery found; returns the symbols new since its previous run."""
    symbols = [r.symbol for r in result.rows]
    new = [s for s in symbols if s not in set(saved.last_symbols or [])]
    saved.last_symbols = symbols
    saved.last_run = timezone.now()
    saved.save(update_fields=["last_symbols", "last_run"])
    return new


def run_scheduled(screen: bool = True) -> list[tuple[SavedDiscovery, list[str]]]:
    """Every saved discovery on the schedule (active users): one IB scan each, and the wheel
    screen on its names when new ones came up since the last run (a `schedule` scan, so the
    worker's digest emails its new signals: "new candidates"). A failure skips that one."""
    out: list[tuple[SavedDiscovery, list[str]]] = []
    due = SavedDiscovery.objects.filter(on_schedule=True, user__is_active=True)
    for saved in due.select_related("user"):
        try:
            result = run(saved_request(saved).model_copy(update={"details": False}))
        except (DiscoverError, ValueError) as exc:
            log.warning("saved discovery %s (%s) did not run: %s", saved.pk, saved.name, exc)
            continue
        new = record_run(saved, result)
        out.append((saved, new))
        if new and screen:
            scan = create_scan(
                saved.user, trigger="schedule", symbols=[r.symbol for r in result.rows]
            )
            if scan.progress.startswith("Queued"):
                execute_scan(scan)
    return out
