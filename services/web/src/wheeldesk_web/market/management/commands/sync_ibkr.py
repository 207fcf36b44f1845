"""`manage.py sync_ibkr`: account, positions, quotes, fundamentals and chains into SQLite."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from wheeldesk.clients import ServiceCallError

from wheeldesk_web.core import clients
from wheeldesk_web.market.services import (
    store_account,
    store_chain,
    store_history,
    update_quotes,
    upsert_stock,
)
from wheeldesk_web.market.streaming import push_streaming_set
from wheeldesk_web.preferences.models import UserConfig
from wheeldesk_web.watchlist.models import WatchlistItem


class Command(BaseCommand):
    help = "Copy the account, positions and the watchlist's quotes, fundamentals and chains from IBKR into SQLite."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--no-chains", action="store_true", help="Skip option chains.")
        parser.add_argument(
            "--symbols", default="", help="Comma-separated; default: every watchlist."
        )

    def handle(self, *args, no_chains: bool = False, symbols: str = "", **options) -> None:  # type: ignore[no-untyped-def]
        bridge = clients.bridge(timeout=30.0)
        ready = bridge.ready()
        if ready.get("status") != "ready":
            reason = ready.get("reason") or ready.get("status") or "not ready"
            raise CommandError(f"gateway-bridge not ready: {reason}")
        wanted = [s.strip().upper() for s in symbols.split(",") if s.strip()] or sorted(
            set(WatchlistItem.objects.values_list("symbol", flat=True))
        )
        user = get_user_model().objects.order_by("pk").first()
        config = UserConfig.for_user(user) if user else None
        dte_max = config.dte_max if config else 45
        failures: list[str] = []
        try:
            with (
                bridge,
                Progress(
                    TextColumn("[bold]{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    transient=False,
                ) as progress,
            ):
                task = progress.add_task("account", total=2 + len(wanted) * (1 if no_chains else 2))
                account = bridge.account()
                positions = bridge.positions()
                store_account(account, positions)
                push_streaming_set(bridge=bridge, force=True)  # positions synced
                progress.advance(task)
                progress.update(task, description="quotes")
                if wanted:
                    try:
                        update_quotes(bridge.quotes(wanted))
                    except ServiceCallError as exc:
                        if exc.unavailable:
                            raise
                        # One bad symbol fails the batch; each is fetched again below anyway.
                        failures.append(f"quotes: {exc.message}")
                progress.advance(task)
                for symbol in wanted:
                    progress.update(task, description=f"{symbol} fundamentals")
                    try:
                        upsert_stock(bridge.stock(symbol))
                        store_history(symbol, bridge.history(symbol, days=365))
                    except ServiceCallError as exc:
                        if exc.unavailable:
                            raise
                        failures.append(f"{symbol}: {exc.message}")
                    progress.advance(task)
                    if no_chains:
                        continue
                    progress.update(task, description=f"{symbol} chain")
                    try:
                        store_chain(bridge.chain(symbol, dte_min=0, dte_max=dte_max, strikes=12))
                    except ServiceCallError as exc:
                        if exc.unavailable:
                            raise
                        failures.append(f"{symbol} chain: {exc.message}")
                    progress.advance(task)
        except ServiceCallError as exc:
            raise CommandError(f"gateway-bridge: {exc.message}") from exc
        for failure in failures:
            self.stderr.write(f"skipped {failure}")
        self.stdout.write(
            f"synced account {account.account_id}: {len(positions)} positions, {len(wanted)} symbols"
            + (f", {len(failures)} skipped" if failures else "")
        )
