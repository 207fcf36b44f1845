"""The one IB connection: connect with capped backoff, reconnect forever, track state.

IB Gateway restarts every night, sockets drop, and IB's own servers lose
connectivity (1100) while the socket stays up. Callers never see ib_insync's
state directly: they ask `require_ready()` (503 + Retry-After with the reason)
and register `on_connected` hooks to re-subscribe their streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

from ib_insync import IB, Contract
from wheeldesk.errors import ServiceError
from wheeldesk.markettime import NY as EASTERN
from wheeldesk.schemas.common import DataType
from wheeldesk.schemas.connection import ConnectionState, ConnectionStatus

from gateway_bridge.fundamentals import FUNDAMENTALS_REFUSED_CODES, UNKNOWN_TICK_CODE, refuses_258
from gateway_bridge.markethours import MarketHours, MarketState
from gateway_bridge.settings import BridgeSettings
from gateway_bridge.tasks import background

log = logging.getLogger(__name__)

# IB answers these when the account has no live subscription for the data asked.
NO_SUBSCRIPTION_CODES = {354, 10089, 10090, 10167, 10168, 10186}
FARM_DOWN_CODES = {2103, 2105, 2157}
FARM_UP_CODES = {2104, 2106, 2158}

# IB error codes that are answers the bridge gives its caller (a 404, an empty listing).
ANSWERED_CODES = (
    200,  # no security definition: unknown symbol, strike or expiry
    10148,  # cancel came too late: the order is already done; the caller gets its final state
    *sorted(FUNDAMENTALS_REFUSED_CODES),  # no fundamentals subscription: status not_subscribed
)


class AccountMismatch(Exception):
    """The IB login is not the account configured: fatal, the bridge must not run on it."""


def account_problem(configured: str | None, managed: list[str]) -> str | None:
    """Why the configured IB_ACCOUNT cannot be used with this login, or None.

    `is_paper` reads the account id, so an IB_ACCOUNT=DU… configured on a live login would
    make the bridge call the account paper and its live-order guard pass. IB's list of
    managed accounts is the truth: the configured account must be one of them, and a paper
    id (DU…/DF…) must not stand in for a login whose accounts are all live."""
    if not managed:
        return "IB reported no managed accounts for this login"
    if configured and configured not in managed:
        kind = "paper" if all(a.upper().startswith(("DU", "DF")) for a in managed) else "live"
        return (
            f"IB_ACCOUNT {configured} is not an account of this IB login ({kind}: "
            f"{', '.join(managed)}); refusing to run on it"
        )
    return None


class AnsweredErrors(logging.Filter):
    """ib_insync logs every IB error code at ERROR before the bridge sees it. The codes the
    bridge answers with (`ANSWERED_CODES`) are logged at INFO, so that an ERROR line in the
    bridge's log always means something needs a look. 321 is any invalid request: only its
    refusal of a tick list naming 258 is answered (a Gateway of TWS API 10.47+, asked again
    without it; fundamentals not_supported)."""

    prefixes = tuple(f"Error {code}," for code in ANSWERED_CODES)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and self.answered(str(record.msg)):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True

    def answered(self, msg: str) -> bool:
        return msg.startswith(self.prefixes) or (
            msg.startswith(f"Error {UNKNOWN_TICK_CODE},") and refuses_258(UNKNOWN_TICK_CODE, msg)
        )


class RetriedConnects(logging.Filter):
    """ib_insync logs a dropped connection and a refused connect at ERROR (the failure and a
    hint about the API port); the bridge reconnects with backoff and logs its own WARNING with
    the next delay, as during IB Gateway's nightly restart. Logged at WARNING. A clientId
    already in use is a configuration error and stays an ERROR."""

    prefixes = ("API connection failed", "Make sure API port")
    exact = ("Peer closed connection.",)

    def filter(self, record: logging.LogRecord) -> bool:
        msg = str(record.msg)
        if record.levelno == logging.ERROR and (msg.startswith(self.prefixes) or msg in self.exact):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_answered_errors(
    logger: logging.Logger | None = None, client_logger: logging.Logger | None = None
) -> None:
    """Install `AnsweredErrors` on ib_insync's wrapper logger and `RetriedConnects` on its
    client logger, once each."""
    for target, kind in (
        (logger or logging.getLogger("ib_insync.wrapper"), AnsweredErrors),
        (client_logger or logging.getLogger("ib_insync.client"), RetriedConnects),
    ):
        if not any(isinstance(f, kind) for f in target.filters):
            target.addFilter(kind())


Hook = Callable[[], Awaitable[None] | None]
StatusListener = Callable[[ConnectionStatus], Awaitable[None] | None]


def backoff_delays(start: float = 0.5, cap: float = 30.0, factor: float = 2.0):
    """Capped exponential backoff: 0.5, 1, 2, 4 … cap, cap, …"""
    delay = start
    while True:
        yield min(delay, cap)
        delay = min(delay * factor, cap)


def fallback_type(current: DataType) -> DataType:
    """The delayed counterpart of a data type (IB: live→delayed, frozen→delayed-frozen)."""
    if current in (DataType.FROZEN, DataType.DELAYED_FROZEN):
        return DataType.DELAYED_FROZEN
    return DataType.DELAYED


def entitled_type(configured: DataType) -> DataType:
    """LIVE or DELAYED: what the subscription gives in regular hours (frozen is not a choice
    of the user's but of the clock: IB sends it outside regular hours)."""
    return DataType.LIVE if configured in (DataType.LIVE, DataType.FROZEN) else DataType.DELAYED


def requested_type(entitled: DataType) -> DataType:
    """What the bridge asks IB for: the frozen variant (2, or 4 with delayed-only data).
    IB answers it live (delayed) in regular hours and with the last session's quote outside
    them, where a type-1 line would show no bid/ask at all."""
    return DataType.FROZEN if entitled == DataType.LIVE else DataType.DELAYED_FROZEN


def effective_type(entitled: DataType, market_open: bool | None) -> DataType:
    """The type IB's quotes have now: frozen (delayed-frozen) when the market is closed."""
    if market_open is False:
        return requested_type(entitled)
    return entitled


class IBSession:
    def __init__(self, settings: BridgeSettings, ib: IB | None = None) -> None:
        self.settings = settings
        self.ib = ib or IB()
        self.ib.RaiseRequestErrors = True
        quiet_answered_errors()
        self.entitled = entitled_type(DataType(settings.ib_market_data_type))
        self.hours = MarketHours()
        self._calendar_loading = False
        self.account_id: str | None = settings.ib_account
        self.status = ConnectionStatus(
            connected=False, state="disconnected", reason="not connected yet"
        )
        self.next_retry_at: float | None = None
        self.connects = 0
        self.clock_offset = 0.0
        self._clock_read = 0.0
        self._on_connected: list[Hook] = []
        self._listeners: list[StatusListener] = []
        self._error_listeners: list[Callable[[int, int, str, Contract | None], None]] = []
        self._fatal_listeners: list[Callable[[str], None]] = []
        self.fatal: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._disconnected = asyncio.Event()
        self._stopping = False
        self.ib.disconnectedEvent += self._on_disconnect
        self.ib.errorEvent += self._on_error

    # ---- hooks ---------------------------------------------------------------------------
    def on_connected(self, hook: Hook) -> None:
        self._on_connected.append(hook)

    def on_status(self, listener: StatusListener) -> None:
        self._listeners.append(listener)

    def on_error(self, listener: Callable[[int, int, str, Contract | None], None]) -> None:
        """`listener(req_id, code, message, contract)`: ib_insync's errorEvent, whose contract
        is the very object a request was made with (None when the request has ended)."""
        self._error_listeners.append(listener)

    def on_fatal(self, listener: Callable[[str], None]) -> None:
        """Called once with the reason when the bridge must stop (account mismatch)."""
        self._fatal_listeners.append(listener)

    # ---- state ---------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.status.connected and self.status.state not in (
            "disconnected",
            "connectivity_lost",
        )

    def not_ready_reason(self) -> str | None:
        if self.ready:
            return None
        return self.status.reason or self.status.state

    def retry_after(self) -> int:
        if self.next_retry_at is None:
            return 5
        loop = asyncio.get_event_loop()
        return max(1, int(self.next_retry_at - loop.time() + 1))

    def require_ready(self) -> None:
        if not self.ready:
            raise ServiceError(
                503,
                "ib_unavailable",
                f"not connected to IBKR: {self.not_ready_reason()}",
                headers={"Retry-After": str(self.retry_after())},
            )

    def _set(
        self,
        state: ConnectionState,
        *,
        connected: bool,
        reason: str | None = None,
        code: int | None = None,
    ) -> None:
        self.status = ConnectionStatus(
            connected=connected,
            state=state,
            reason=reason,
            ib_code=code,
            account_id=self.account_id,
            server_version=self.ib.client.serverVersion() if connected else None,
            market_data_type=self.data_type,
            since=datetime.now(UTC),
            simulated=self.settings.ib_simulated,
        )
        log.info("ibkr connection %s%s", state, f" ({reason})" if reason else "")
        for listener in self._listeners:
            result = listener(self.status)
            if asyncio.iscoroutine(result):
                background(result)

    @property
    def data_type(self) -> DataType:
        """The data type IB sends now (the fallback for a line that has not announced one)."""
        state = self.market_state()
        return effective_type(self.entitled, None if state is None else state.open)

    def market_state(self) -> MarketState | None:
        """Regular hours at IB's clock; None until the calendar is loaded."""
        return self.hours.state(self.now())

    def current_status(self) -> ConnectionStatus:
        """The status as of now: IB's clock, the market's state and the data type with it."""
        if not self.status.connected:
            return self.status.model_copy(update={"simulated": self.settings.ib_simulated})
        state = self.market_state()
        return self.status.model_copy(
            update={
                "server_time": self.now(),
                "market_data_type": self.data_type,
                "simulated": self.settings.ib_simulated,
                "market_open": None if state is None else state.open,
                "last_close": None if state is None else state.last_close,
                "next_open": None if state is None else state.next_open,
            }
        )

    async def _load_calendar(self) -> None:
        if self._calendar_loading:
            return
        self._calendar_loading = True
        try:
            await asyncio.to_thread(self.hours.load, self.now())
        except Exception:
            log.exception("NYSE calendar unavailable: market open/closed is unknown")
        finally:
            self._calendar_loading = False

    def now(self) -> datetime:
        """IB's clock (tws-sim's may run ahead of ours; DTE must follow the server)."""
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    async def refresh_clock(self, max_age: float = 30.0) -> None:
        """Re-read IB's clock now and then (tws-sim's can be advanced by days)."""
        loop = asyncio.get_running_loop()
        if loop.time() - self._clock_read < max_age or not self.ready:
            return
        self._clock_read = loop.time()
        try:
            server_now = await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), 5)
            self.clock_offset = (server_now - datetime.now(UTC)).total_seconds()
        except Exception:
            log.debug("clock refresh failed", exc_info=True)
        if not self.hours.covers(self.now()):
            background(self._load_calendar())

    def today(self) -> date:
        return self.now().astimezone(EASTERN).date()

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ib-connection")

    async def stop(self) -> None:
        self._stopping = True
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.ib.isConnected():
            self.ib.disconnect()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        delays = backoff_delays(cap=self.settings.ib_reconnect_max_seconds)
        while not self._stopping:
            try:
                await self._connect()
            except AccountMismatch as exc:
                self.fatal = str(exc)
                log.critical("%s", exc)
                self._set("disconnected", connected=False, reason=str(exc))
                with contextlib.suppress(Exception):
                    self.ib.disconnect()
                for listener in self._fatal_listeners:
                    listener(str(exc))
                return
            except Exception as exc:  # refused, timed out, broken during sync
                delay = next(delays)
                self.next_retry_at = loop.time() + delay
                reason = f"connect to {self.settings.ib_host}:{self.settings.ib_port} failed: "
                reason += (str(exc) or type(exc).__name__)[:160]
                if self.status.reason != reason or self.status.connected:
                    self._set("disconnected", connected=False, reason=reason)
                log.warning("%s; retrying in %.1fs", reason, delay)
                with contextlib.suppress(Exception):
                    self.ib.disconnect()
                await asyncio.sleep(delay)
                continue
            delays = backoff_delays(cap=self.settings.ib_reconnect_max_seconds)
            self.next_retry_at = None
            await self._disconnected.wait()
            if self._stopping:
                return
            delay = next(delays)
            self.next_retry_at = loop.time() + delay
            await asyncio.sleep(delay)

    async def _connect(self) -> None:
        self._disconnected.clear()
        await self.ib.connectAsync(
            self.settings.ib_host,
            self.settings.ib_port,
            clientId=self.settings.ib_client_id,
            timeout=self.settings.ib_connect_timeout,
            readonly=self.settings.ib_readonly,
            account=self.settings.ib_account or "",
        )
        accounts = self.ib.managedAccounts()
        problem = account_problem(self.settings.ib_account, accounts)
        if problem:
            raise AccountMismatch(problem)
        if self.account_id not in accounts:
            # Unset, or a reconnect to another login (Gateway restarted with other
            # credentials): the account is the login's, never the one seen before.
            self.account_id = self.settings.ib_account or accounts[0]
        if self.settings.ib_readonly:
            await self._load_orders_read_only()
        try:
            server_now = await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), 5)
            self.clock_offset = (server_now - datetime.now(UTC)).total_seconds()
            self._clock_read = asyncio.get_running_loop().time()
        except Exception:
            self.clock_offset = 0.0
        if not self.hours.covers(self.now()):
            background(self._load_calendar())  # seconds of pandas: never hold up the connect
        self.ib.reqMarketDataType(requested_type(self.entitled).ib_code)
        self.connects += 1
        self._set("connected", connected=True)
        for hook in self._on_connected:
            try:
                result = hook()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("on-connect hook failed")

    async def _load_orders_read_only(self) -> None:
        """ib_insync loads no orders on a read-only connection; the public API still lists
        every working order (reqAllOpenOrders) and today's completed ones, so the orders
        page keeps showing them (read-only places and cancels nothing)."""
        timeout = self.settings.ib_request_timeout
        for name, request in (
            ("open orders", self.ib.reqAllOpenOrdersAsync),
            ("completed orders", lambda: self.ib.reqCompletedOrdersAsync(False)),
        ):
            try:
                await asyncio.wait_for(request(), timeout)
            except Exception as exc:
                log.warning("read-only: %s unavailable (%s)", name, exc)

    def _on_disconnect(self) -> None:
        # Failed connect attempts also end here; _run reports those with their reason.
        if not self._stopping and self.status.connected:
            self._set("disconnected", connected=False, reason="socket to IB closed; reconnecting")
        self._disconnected.set()

    def use_delayed(self) -> bool:
        """Fall back to delayed data; True when the type changed (callers re-request)."""
        if self.entitled == DataType.DELAYED:
            return False
        log.warning("no live market data subscription: falling back to delayed data")
        self.entitled = DataType.DELAYED
        if self.ib.isConnected():
            self.ib.reqMarketDataType(requested_type(self.entitled).ib_code)
        self.status = self.status.model_copy(update={"market_data_type": self.data_type})
        return True

    def _on_error(self, req_id: int, code: int, message: str, contract: Contract | None) -> None:
        if code == 1100:
            self._set(
                "connectivity_lost",
                connected=True,
                reason=f"IB lost connectivity ({code})",
                code=code,
            )
        elif code in (1101, 1102):
            # 1101: restored but data lost → re-subscribe; 1102: data maintained.
            self._set("connectivity_restored", connected=True, code=code)
            if code == 1101:
                for hook in self._on_connected:
                    result = hook()
                    if asyncio.iscoroutine(result):
                        background(result)
        elif code in FARM_DOWN_CODES:
            self._set("farm_down", connected=True, reason=message, code=code)
        elif code in FARM_UP_CODES and self.status.state == "farm_down":
            self._set("farm_up", connected=True, reason=message, code=code)
        for listener in self._error_listeners:
            try:
                listener(req_id, code, message, contract)
            except Exception:
                log.exception("error listener failed")
