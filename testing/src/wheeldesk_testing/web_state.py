"""The web's database as the web's own code reads and writes it: no table names, no code strings.

`WebState(stack)` (or `WebState(env)` for a web that is only an environment: a database URL and
a data directory) runs each query in a new process in the web's environment (its
settings and `DATABASE_URL`, as `manage.py` would: `in_web.run_in_web`), through the web's
models and services (the functions of `web_queries`). A renamed model or field then fails here
with the web's own error, not as an empty SQL result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from wheeldesk_testing import web_queries
from wheeldesk_testing.in_web import InWebError, run_in_web
from wheeldesk_testing.stack import Stack

# The web's code refused or failed (a database busy past its timeout, a renamed field).
WebStateError = InWebError


class WebState:
    """The web's state for a running stack, each call one process in the web's environment."""

    def __init__(self, web: Stack | Mapping[str, str]) -> None:
        """`web`: a running stack, or only the web's environment (a process test's database URL
        and data directory)."""
        self.env: dict[str, str] = dict(web.web.env if isinstance(web, Stack) else web)

    def call(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        """`fn(**kwargs)` (a function of `web_queries`) in a new process in the web's environment."""
        return run_in_web(self.env, fn, **kwargs)

    def executions(self) -> list[dict[str, Any]]:
        """Every ledger execution, oldest first (trades and settlements)."""
        return self.call(web_queries.executions)

    def cycles(self) -> list[dict[str, Any]]:
        """Every wheel cycle the ledger built."""
        return self.call(web_queries.cycles)

    def opening_lots(self) -> list[dict[str, Any]]:
        """Opening lots the worker took from the account at the first sync (held before the
        ledger's history, e.g. tws-sim's starting KO shares and AAPL put)."""
        return self.call(web_queries.opening_lots)

    def notifications(self) -> list[dict[str, Any]]:
        """Every email the web decided to send (one per idempotency key) and how it went, oldest
        first, with the request it hands the notifier."""
        return self.call(web_queries.notifications)

    def orders(self) -> list[dict[str, Any]]:
        """Every order with its user's email (None for an order without a user)."""
        return self.call(web_queries.orders)

    def order(self, client_order_id: str) -> dict[str, Any] | None:
        """One order's every field (None if the web never stored it)."""
        return self.call(web_queries.order, client_order_id=client_order_id)

    def order_audits(self, client_order_id: str, action: str) -> list[Any]:
        """The details of an order's audit entries of one action (modify, cancel…), oldest first."""
        return self.call(web_queries.order_audits, client_order_id=client_order_id, action=action)

    def stock_name(self, symbol: str) -> str | None:
        """The company name the web stored for a ticker (None: no stock row yet)."""
        return self.call(web_queries.stock_name, symbol=symbol)

    def stock(self, symbol: str) -> dict[str, Any] | None:
        """Everything the web stored about a ticker (quote, fundamentals, history); None if nothing."""
        return self.call(web_queries.stock, symbol=symbol)

    def account_snapshot(self) -> dict[str, Any]:
        """The account as the last IBKR sync stored it (its id, positions…); there is one."""
        return self.call(web_queries.account_snapshot)

    def watchlist_item(self, watchlist: int, symbol: str) -> int | None:
        """The id of a ticker's row on a watchlist (the id its remove URL takes)."""
        return self.call(web_queries.watchlist_item, watchlist=watchlist, symbol=symbol)

    def watchlist_of(self, username: str) -> int | None:
        """The id of the user's default watchlist (else their oldest)."""
        return self.call(web_queries.watchlist_of, username=username)

    def watchlists(self, username: str) -> list[int]:
        """The ids of the user's watchlists, the default first."""
        return self.call(web_queries.watchlists, username=username)

    def flex_imports(self) -> list[dict[str, Any]]:
        """Every Flex statement upload and how far it got, oldest first."""
        return self.call(web_queries.flex_imports)

    def watchlist_notes(self, item: int) -> str:
        """The notes stored on one watchlist row."""
        return self.call(web_queries.watchlist_notes, item=item)

    def user_configs(self) -> list[dict[str, Any]]:
        """Every user's trading and scan settings, field by field."""
        return self.call(web_queries.user_configs)

    def row_count(self, model: str) -> int:
        """How many rows a model holds, named by its label (`watchlist.WatchlistItem`)."""
        return self.call(web_queries.row_count, model=model)

    def table_count(self) -> int:
        """How many tables the web's database has (a dropped table shows here)."""
        return self.call(web_queries.table_count)

    def create_user(
        self, username: str, email: str, password: str, permissions: tuple[str, ...] = ()
    ) -> None:
        """A user as an admin would add one, holding these permissions (by codename)."""
        self.call(
            web_queries.create_user,
            username=username,
            email=email,
            password=password,
            permissions=permissions,
        )

    def user_id(self, username: str) -> int:
        """A user's id (the one the web puts in their emails' idempotency keys)."""
        return self.call(web_queries.user_id, username=username)

    def signal_market_data_types(self) -> list[str]:
        """The market data types (live, frozen, delayed…) the stored signals were priced from."""
        return self.call(web_queries.signal_market_data_types)

    def email_signals(self, username: str, email: str, min_tier: str) -> None:
        """The user (created if new) gets new signals of this tier or better by email."""
        self.call(web_queries.email_signals, username=username, email=email, min_tier=min_tier)

    def schedule_scans(self, username: str, email: str, symbols: list[str], times: str) -> None:
        """The user (created if new) watches these symbols on a default "Core" list and has their
        scan run at these times (Settings' "HH:MM,…"), its signals of any tier emailed."""
        self.call(
            web_queries.schedule_scans, username=username, email=email, symbols=symbols, times=times
        )

    def signal_digests(self, username: str) -> dict[str, Any]:
        """Each of the user's scans' tier A/B signal keys (oldest scan first) and how many signal
        digests the web decided to email them."""
        return self.call(web_queries.signal_digests, username=username)

    def latest_scan(
        self, username: str | None = None, trigger: str | None = None
    ) -> dict[str, Any]:
        """The newest scan (of this user, of this trigger, if named): its id, status, criteria and
        symbols, its signals (best score first) and its rejections."""
        return self.call(web_queries.latest_scan, username=username, trigger=trigger)

    def default_watchlist_with(
        self, username: str, name: str, symbols: list[str], criteria: dict
    ) -> None:
        """The user (created if new) gets a default watchlist of these symbols whose own scan
        criteria (DTE window, delta band…) override their Settings'."""
        self.call(
            web_queries.default_watchlist_with,
            username=username,
            name=name,
            symbols=symbols,
            criteria=criteria,
        )

    def signal_status(self, signal: int) -> str:
        """A signal's status (new, ordered, filled…), as the signals page shows it."""
        return self.call(web_queries.signal_status, signal=signal)

    def adjustments(self) -> list[dict[str, Any]]:
        """Every ledger adjustment (opening lots, dividends, fees…), oldest first."""
        return self.call(web_queries.adjustments)

    def watched_symbols(self) -> list[str]:
        """Every symbol on any watchlist."""
        return self.call(web_queries.watched_symbols)

    def refresh_working_orders(self) -> None:
        """Bring every working order up to date from the bridge, as the worker's sync pass does."""
        self.call(web_queries.refresh_working_orders)

    def scans_done(self) -> int:
        """How many scans finished."""
        return self.call(web_queries.scans_done)

    def soak_setup(self, username: str, symbols: list[str], dte_max: int) -> None:
        """The soak's user: the symbols on the default watchlist, a saved scan that emails its new
        tier-A signals, an email for every IBKR outage (no minimum length) and a DTE window."""
        self.call(web_queries.soak_setup, username=username, symbols=symbols, dte_max=dte_max)

    def database_vendor(self) -> str:
        """The database engine the web runs on (`sqlite`, `postgresql`): proof a test ran where it
        meant to."""
        return self.call(web_queries.database_vendor)

    def worker_state(self, name: str) -> dict[str, Any]:
        """What the worker keeps under `name` between passes (e.g. `jobs`, its last runs); {} if
        nothing yet."""
        return self.call(web_queries.worker_state, name=name)

    def order_status(self, client_order_id: str) -> str:
        """The order's status, "" if the web has no such order."""
        found = self.order(client_order_id)
        return found["status"] if found else ""
