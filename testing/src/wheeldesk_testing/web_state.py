"""The web's database as the web's own code reads and writes it: no table names, no code strings.

The harness never opens the web's database itself nor hands Django a program as a string: it runs
this module in the web's environment (its settings and `DATABASE_URL`, as `manage.py` would),
which goes through the web's models and services and prints one JSON document:

    python -m wheeldesk_testing.web_state <what> ['<json keyword arguments>']

`WebState(stack)` does that for a running `Stack`. A renamed model or field then fails here with
the web's own error, not as an empty SQL result.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from wheeldesk_testing.procs import ROOT
from wheeldesk_testing.stack import Stack


def executions() -> list[dict[str, Any]]:
    """Every ledger execution, oldest first (trades and settlements)."""
    from wheeldesk_web.ledger.models import Execution

    return list(Execution.objects.order_by("time", "id").values())


def cycles() -> list[dict[str, Any]]:
    """Every wheel cycle the ledger built."""
    from wheeldesk_web.ledger.models import WheelCycle

    return list(WheelCycle.objects.values())


def opening_lots() -> list[dict[str, Any]]:
    """Opening lots the worker took from the account at the first sync (held before the
    ledger's history, e.g. tws-sim's starting KO shares and AAPL put)."""
    from wheeldesk_web.ledger.models import Adjustment

    rows = Adjustment.objects.filter(from_broker=True)
    return list(rows.values("kind", "symbol", "quantity", "price"))


def notifications() -> list[dict[str, Any]]:
    """Every email the web decided to send (one per idempotency key) and how it went, oldest
    first, with the request it hands the notifier."""
    from wheeldesk_web.alerts.models import Notification

    rows = Notification.objects.order_by("id")
    return list(rows.values("id", "key", "kind", "status", "error", "request"))


def orders() -> list[dict[str, Any]]:
    """Every order with its user's email (None for an order without a user)."""
    from wheeldesk_web.orders.models import Order

    return [
        {
            "client_order_id": o.client_order_id,
            "status": o.status,
            "symbol": o.symbol,
            "action": o.action,
            "checks": o.checks,
            "email": o.user.email if o.user else None,
        }
        for o in Order.objects.select_related("user")
    ]


def order(client_order_id: str) -> dict[str, Any] | None:
    """One order's every field (None if the web never stored it)."""
    from wheeldesk_web.orders.models import Order

    return Order.objects.filter(client_order_id=client_order_id).values().first()


def order_audits(client_order_id: str, action: str) -> list[Any]:
    """The details of an order's audit entries of one action (modify, cancel…), oldest first."""
    from wheeldesk_web.orders.models import OrderAudit

    rows = OrderAudit.objects.filter(client_order_id=client_order_id, action=action)
    return list(rows.order_by("id").values_list("detail", flat=True))


def stock_name(symbol: str) -> str | None:
    """The company name the web stored for a ticker (None: no stock row yet)."""
    from wheeldesk_web.market.models import Stock

    return Stock.objects.filter(symbol=symbol).values_list("name", flat=True).first()


def stock(symbol: str) -> dict[str, Any] | None:
    """Everything the web stored about a ticker (quote, fundamentals, history); None if nothing."""
    from wheeldesk_web.market.models import Stock

    return Stock.objects.filter(symbol=symbol).values().first()


def account_snapshot() -> dict[str, Any]:
    """The account as the last IBKR sync stored it (its id, positions…); there is one."""
    from wheeldesk_web.market.models import AccountSnapshot

    return AccountSnapshot.objects.values().get()


def watchlist_item(watchlist: int, symbol: str) -> int | None:
    """The id of a ticker's row on a watchlist (the id its remove URL takes)."""
    from wheeldesk_web.watchlist.models import WatchlistItem

    rows = WatchlistItem.objects.filter(watchlist_id=watchlist, symbol=symbol)
    return rows.values_list("id", flat=True).first()


def watchlist_of(username: str) -> int | None:
    """The id of the user's default watchlist (else their oldest)."""
    from wheeldesk_web.watchlist.models import Watchlist

    rows = Watchlist.objects.filter(user__username=username).order_by("-is_default", "id")
    return rows.values_list("id", flat=True).first()


def watchlists(username: str) -> list[int]:
    """The ids of the user's watchlists, the default first."""
    from wheeldesk_web.watchlist.models import Watchlist

    rows = Watchlist.objects.filter(user__username=username).order_by("-is_default", "id")
    return list(rows.values_list("id", flat=True))


def flex_imports() -> list[dict[str, Any]]:
    """Every Flex statement upload and how far it got, oldest first."""
    from wheeldesk_web.ledger.models import FlexImport

    rows = FlexImport.objects.order_by("id")
    return list(rows.values("id", "filename", "status", "total", "processed", "added"))


def watchlist_notes(item: int) -> str:
    """The notes stored on one watchlist row."""
    from wheeldesk_web.watchlist.models import WatchlistItem

    return WatchlistItem.objects.get(pk=item).notes


def user_configs() -> list[dict[str, Any]]:
    """Every user's trading and scan settings, field by field."""
    from wheeldesk_web.preferences.models import UserConfig

    return list(UserConfig.objects.order_by("id").values())


def row_count(model: str) -> int:
    """How many rows a model holds, named by its label (`watchlist.WatchlistItem`)."""
    from django.apps import apps

    return apps.get_model(model).objects.count()


def table_count() -> int:
    """How many tables the web's database has (a dropped table shows here)."""
    from django.db import connection

    return len(connection.introspection.table_names())


def create_user(
    username: str, email: str, password: str, permissions: tuple[str, ...] = ()
) -> None:
    """A user as an admin would add one, holding these permissions (by codename)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(username, email, password)
    granted = [Permission.objects.get(codename=codename) for codename in permissions]
    user.user_permissions.add(*granted)


def user_id(username: str) -> int:
    """A user's id (the one the web puts in their emails' idempotency keys)."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=username).pk


def signal_market_data_types() -> list[str]:
    """The market data types (live, frozen, delayed…) the stored signals were priced from."""
    from wheeldesk_web.signals.models import Signal

    return sorted(set(Signal.objects.values_list("market_data_type", flat=True)))


def email_signals(username: str, email: str, min_tier: str) -> None:
    """The user (created if new) gets new signals of this tier or better by email."""
    from django.contrib.auth import get_user_model
    from wheeldesk_web.preferences.models import UserConfig

    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"email": email})
    config = UserConfig.for_user(user)
    config.notify_email, config.notify_min_tier = True, min_tier
    config.save()


def schedule_scans(username: str, email: str, symbols: list[str], times: str) -> None:
    """The user (created if new) watches these symbols on a default "Core" list and has their
    scan run at these times (Settings' "HH:MM,…"), its signals of any tier emailed."""
    from django.contrib.auth import get_user_model
    from wheeldesk_web.preferences.models import UserConfig
    from wheeldesk_web.watchlist.models import Watchlist, WatchlistItem

    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"email": email})
    watchlist, _ = Watchlist.objects.get_or_create(
        user=user, name="Core", defaults={"is_default": True}
    )
    for symbol in symbols:
        WatchlistItem.objects.get_or_create(watchlist=watchlist, symbol=symbol)
    UserConfig.objects.filter(pk=UserConfig.for_user(user).pk).update(
        scan_enabled=True, scan_times=times, notify_email=True, notify_min_tier="C"
    )


def signal_digests(username: str) -> dict[str, Any]:
    """Each of the user's scans' tier A/B signal keys (oldest scan first) and how many signal
    digests the web decided to email them."""
    from wheeldesk_web.alerts.emails import signal_key
    from wheeldesk_web.alerts.models import Notification
    from wheeldesk_web.signals.models import ScanRun

    scans = [
        sorted({signal_key(s) for s in run.signals.all() if s.tier in ("A", "B")})
        for run in ScanRun.objects.filter(user__username=username).order_by("id")
    ]
    digests = Notification.objects.filter(user__username=username, kind="signal_digest")
    return {"scans": scans, "decided": digests.count()}


def latest_scan(username: str | None = None, trigger: str | None = None) -> dict[str, Any]:
    """The newest scan (of this user, of this trigger, if named): its id, status, criteria and
    symbols, its signals (best score first) and its rejections."""
    from wheeldesk_web.signals.models import ScanRun

    runs = ScanRun.objects.all()
    if username:
        runs = runs.filter(user__username=username)
    if trigger:
        runs = runs.filter(trigger=trigger)
    scan = runs.order_by("-id").first()
    assert scan is not None, "no scan ran"
    fields = ("id", "kind", "symbol", "quantity", "score", "status", "dte", "abs_delta")
    return {
        "id": scan.pk,
        "status": scan.status,
        "criteria": scan.criteria,
        "symbols": scan.symbols,
        "held_symbols": scan.held_symbols,
        "signals": list(scan.signals.order_by("-score", "id").values(*fields)),
        "rejections": list(scan.rejections.order_by("id").values("symbol", "rule", "message")),
    }


def default_watchlist_with(username: str, name: str, symbols: list[str], criteria: dict) -> None:
    """The user (created if new) gets a default watchlist of these symbols whose own scan
    criteria (DTE window, delta band…) override their Settings'."""
    from django.contrib.auth import get_user_model
    from wheeldesk_web.watchlist.models import Watchlist, WatchlistItem

    user, _ = get_user_model().objects.get_or_create(username=username)
    watchlist, _ = Watchlist.objects.get_or_create(
        user=user, name=name, defaults={"is_default": True}
    )
    watchlist.criteria = criteria
    watchlist.save()
    for symbol in symbols:
        WatchlistItem.objects.get_or_create(watchlist=watchlist, symbol=symbol)


def signal_status(signal: int) -> str:
    """A signal's status (new, ordered, filled…), as the signals page shows it."""
    from wheeldesk_web.signals.models import Signal

    return Signal.objects.get(pk=signal).status


def adjustments() -> list[dict[str, Any]]:
    """Every ledger adjustment (opening lots, dividends, fees…), oldest first."""
    from wheeldesk_web.ledger.models import Adjustment

    return list(Adjustment.objects.order_by("id").values())


def watched_symbols() -> list[str]:
    """Every symbol on any watchlist."""
    from wheeldesk_web.watchlist.models import WatchlistItem

    return sorted(set(WatchlistItem.objects.values_list("symbol", flat=True)))


def refresh_working_orders() -> None:
    """Bring every working order up to date from the bridge, as the worker's sync pass does."""
    from wheeldesk_web.core import clients
    from wheeldesk_web.orders.models import Order
    from wheeldesk_web.orders.services import refresh

    bridge = clients.bridge()
    for order in Order.objects.filter(status__in=Order.WORKING):
        refresh(order, bridge)


def scans_done() -> int:
    """How many scans finished."""
    from wheeldesk_web.signals.models import ScanRun

    return ScanRun.objects.filter(status=ScanRun.DONE).count()


def soak_setup(username: str, symbols: list[str], dte_max: int) -> None:
    """The soak's user: the symbols on the default watchlist, a saved scan that emails its new
    tier-A signals, an email for every IBKR outage (no minimum length) and a DTE window."""
    from django.contrib.auth import get_user_model
    from wheeldesk_web.alerts.models import AlertPreferences, SavedScan
    from wheeldesk_web.preferences.models import UserConfig
    from wheeldesk_web.watchlist.models import WatchlistItem
    from wheeldesk_web.watchlist.services import default_watchlist

    user = get_user_model().objects.get(username=username)
    watchlist = default_watchlist(user)
    for symbol in symbols:
        WatchlistItem.objects.get_or_create(watchlist=watchlist, symbol=symbol)
    SavedScan.objects.get_or_create(
        user=user,
        name="Soak wheel",
        defaults={"watchlist": watchlist, "kinds": "CSP,CC", "email": True},
    )
    AlertPreferences.objects.update_or_create(
        user=user, defaults={"disconnected": True, "disconnected_minutes": 0}
    )
    config = UserConfig.for_user(user)
    config.dte_max = dte_max
    config.save()


ACTIONS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (
        executions,
        cycles,
        opening_lots,
        notifications,
        orders,
        order,
        order_audits,
        stock_name,
        stock,
        account_snapshot,
        watchlist_item,
        create_user,
        watchlist_of,
        watchlists,
        flex_imports,
        watchlist_notes,
        user_configs,
        row_count,
        table_count,
        user_id,
        signal_market_data_types,
        email_signals,
        schedule_scans,
        signal_digests,
        latest_scan,
        default_watchlist_with,
        signal_status,
        adjustments,
        watched_symbols,
        refresh_working_orders,
        scans_done,
        soak_setup,
    )
}


class WebState:
    """The web's state for a running stack, each call one process in the web's environment.

    Every function of `ACTIONS` is a method of the same name and arguments:
    `WebState(stack).order(coid)` runs `order(coid)` in the web's environment.
    """

    def __init__(self, stack: Stack) -> None:
        self.env = {**stack.web.env}

    def call(self, action: str, /, **kwargs: Any) -> Any:
        result = subprocess.run(
            [sys.executable, "-m", __name__, action, json.dumps(kwargs)],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise WebStateError(f"{action}: {result.stderr.strip()[-2000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    def __getattr__(self, action: str) -> Callable[..., Any]:
        if action not in ACTIONS:
            raise AttributeError(action)
        signature = inspect.signature(ACTIONS[action])

        def run(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return self.call(action, **bound.arguments)

        return run

    def order_status(self, client_order_id: str) -> str:
        """The order's status, "" if the web has no such order."""
        found = self.call("order", client_order_id=client_order_id)
        return found["status"] if found else ""


class WebStateError(RuntimeError):
    """The web's code refused or failed (a database busy past its timeout, a renamed field)."""


def main(argv: list[str]) -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wheeldesk_web.settings")  # as manage.py
    django.setup()
    action, kwargs = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    print(json.dumps(ACTIONS[action](**kwargs), default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
