"""The web's state as the web's own models and services read and write it, in its process.

Each function runs inside a process in the web's environment (`in_web.run_in_web`), usually
through the `WebState` method of the same name, where it is documented: the harness names no
table and hands Django no code string. Add a function here (and its `WebState` method) rather
than SQL or `manage.py shell -c` in a test.
"""

from __future__ import annotations

from typing import Any


def executions() -> list[dict[str, Any]]:
    from wheeldesk_web.ledger.models import Execution

    return list(Execution.objects.order_by("time", "id").values())


def cycles() -> list[dict[str, Any]]:
    from wheeldesk_web.ledger.models import WheelCycle

    return list(WheelCycle.objects.values())


def opening_lots() -> list[dict[str, Any]]:
    from wheeldesk_web.ledger.models import Adjustment

    rows = Adjustment.objects.filter(from_broker=True)
    return list(rows.values("kind", "symbol", "quantity", "price"))


def notifications() -> list[dict[str, Any]]:
    from wheeldesk_web.alerts.models import Notification

    rows = Notification.objects.order_by("id")
    return list(rows.values("id", "key", "kind", "status", "error", "request"))


def orders() -> list[dict[str, Any]]:
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
    from wheeldesk_web.orders.models import Order

    return Order.objects.filter(client_order_id=client_order_id).values().first()


def order_audits(client_order_id: str, action: str) -> list[Any]:
    from wheeldesk_web.orders.models import OrderAudit

    rows = OrderAudit.objects.filter(client_order_id=client_order_id, action=action)
    return list(rows.order_by("id").values_list("detail", flat=True))


def stock_name(symbol: str) -> str | None:
    from wheeldesk_web.market.models import Stock

    return Stock.objects.filter(symbol=symbol).values_list("name", flat=True).first()


def stock(symbol: str) -> dict[str, Any] | None:
    from wheeldesk_web.market.models import Stock

    return Stock.objects.filter(symbol=symbol).values().first()


def account_snapshot() -> dict[str, Any]:
    from wheeldesk_web.market.models import AccountSnapshot

    return AccountSnapshot.objects.values().get()


def watchlist_item(watchlist: int, symbol: str) -> int | None:
    from wheeldesk_web.watchlist.models import WatchlistItem

    rows = WatchlistItem.objects.filter(watchlist_id=watchlist, symbol=symbol)
    return rows.values_list("id", flat=True).first()


def watchlist_of(username: str) -> int | None:
    from wheeldesk_web.watchlist.models import Watchlist

    rows = Watchlist.objects.filter(user__username=username).order_by("-is_default", "id")
    return rows.values_list("id", flat=True).first()


def watchlists(username: str) -> list[int]:
    from wheeldesk_web.watchlist.models import Watchlist

    rows = Watchlist.objects.filter(user__username=username).order_by("-is_default", "id")
    return list(rows.values_list("id", flat=True))


def flex_imports() -> list[dict[str, Any]]:
    from wheeldesk_web.ledger.models import FlexImport

    rows = FlexImport.objects.order_by("id")
    return list(rows.values("id", "filename", "status", "total", "processed", "added"))


def watchlist_notes(item: int) -> str:
    from wheeldesk_web.watchlist.models import WatchlistItem

    return WatchlistItem.objects.get(pk=item).notes


def user_configs() -> list[dict[str, Any]]:
    from wheeldesk_web.preferences.models import UserConfig

    return list(UserConfig.objects.order_by("id").values())


def row_count(model: str) -> int:
    from django.apps import apps

    return apps.get_model(model).objects.count()


def table_count() -> int:
    from django.db import connection

    return len(connection.introspection.table_names())


def create_user(
    username: str, email: str, password: str, permissions: tuple[str, ...] = ()
) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(username, email, password)
    granted = [Permission.objects.get(codename=codename) for codename in permissions]
    user.user_permissions.add(*granted)


def user_id(username: str) -> int:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=username).pk


def signal_market_data_types() -> list[str]:
    from wheeldesk_web.signals.models import Signal

    return sorted(set(Signal.objects.values_list("market_data_type", flat=True)))


def email_signals(username: str, email: str, min_tier: str) -> None:
    from django.contrib.auth import get_user_model
    from wheeldesk_web.preferences.models import UserConfig

    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"email": email})
    config = UserConfig.for_user(user)
    config.notify_email, config.notify_min_tier = True, min_tier
    config.save()


def schedule_scans(username: str, email: str, symbols: list[str], times: str) -> None:
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
    from wheeldesk_web.signals.models import Signal

    return Signal.objects.get(pk=signal).status


def adjustments() -> list[dict[str, Any]]:
    from wheeldesk_web.ledger.models import Adjustment

    return list(Adjustment.objects.order_by("id").values())


def watched_symbols() -> list[str]:
    from wheeldesk_web.watchlist.models import WatchlistItem

    return sorted(set(WatchlistItem.objects.values_list("symbol", flat=True)))


def refresh_working_orders() -> None:
    from wheeldesk_web.core import clients
    from wheeldesk_web.orders.models import Order
    from wheeldesk_web.orders.services import refresh

    bridge = clients.bridge()
    for order in Order.objects.filter(status__in=Order.WORKING):
        refresh(order, bridge)


def scans_done() -> int:
    from wheeldesk_web.signals.models import ScanRun

    return ScanRun.objects.filter(status=ScanRun.DONE).count()


def soak_setup(username: str, symbols: list[str], dte_max: int) -> None:
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


def database_vendor() -> str:
    from django.db import connection

    return connection.vendor


def worker_state(name: str) -> dict[str, Any]:
    from wheeldesk_web.alerts.models import WorkerState

    return WorkerState.get(name)
