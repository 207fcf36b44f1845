"""One API connection: handshake, output, pacing, latency and request dispatch.

The requests themselves are handled by the mixins `Session` is made of, one module per area:
account_handlers.py (positions, account values, P&L), order_handlers.py (orders and
executions), market_handlers.py (market data, history, contract details); combos.py,
scanner.py and wsh.py hold the rest. `HANDLERS` maps each TWS API message id to its handler.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import struct
import time
from dataclasses import dataclass, field
from datetime import UTC

from tws_sim import combos, scanner, wsh
from tws_sim import messages as m
from tws_sim.account_handlers import AccountHandlers
from tws_sim.engine import Engine
from tws_sim.market_handlers import MarketDataHandlers
from tws_sim.order_handlers import OrderHandlers
from tws_sim.protocol import (
    MAX_MESSAGE,
    SERVER_VERSION,
    ProtocolError,
    decode_fields,
    encode,
    parse_handshake,
)
from tws_sim.requests import parse_contract
from tws_sim.ticks import Line

log = logging.getLogger("tws_sim.session")
WRITE_BUFFER_LIMIT = 4 << 20
PACING_STRIKE_SECONDS = 3
# Requests `--latency realistic` delays (message id -> kind in latency.DELAYS); snapshots
# are delayed in req_mkt_data, streaming lines answer at once.
DELAYED_KINDS = {
    "9": "contract_details",
    "78": "secdef_params",
    "20": "historical",
    "87": "small",
    "91": "small",
}


@dataclass(eq=False)
class Session(AccountHandlers, OrderHandlers, MarketDataHandlers):
    engine: Engine
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    client_id: int = -1
    ready: bool = False
    data_type: int = 1
    lines: dict[int, Line] = field(default_factory=dict)
    pending_snapshots: int = 0
    positions_sub: bool = False
    account_sub: bool = False
    multi_subs: set[int] = field(default_factory=set)
    summary_subs: dict[int, set[str] | None] = field(default_factory=dict)
    pnl_subs: set[int] = field(default_factory=set)
    closed: bool = False

    def __post_init__(self) -> None:
        self._tokens = float(self.engine.config.pacing)
        self._last_refill = time.monotonic()
        self._violations = 0
        self._streak_start = 0.0
        self._last_violation = -10.0
        self._outq: collections.deque[tuple[float, bytes]] = collections.deque()
        self._out_event = asyncio.Event()
        self._writer_task: asyncio.Task | None = None

    # --- output ---------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        latency = self.engine.faults.latency_ms
        if latency > 0 or self._outq:
            self._outq.append((time.monotonic() + latency / 1000.0, data))
            if self._writer_task is None:
                self._writer_task = asyncio.get_running_loop().create_task(self._drain())
            self._out_event.set()
            return
        try:
            self.writer.write(data)
        except (ConnectionError, RuntimeError):
            self.close()

    async def _drain(self) -> None:
        while not self.closed:
            if not self._outq:
                self._out_event.clear()
                await self._out_event.wait()
                continue
            due, data = self._outq[0]
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._outq.popleft()
            if self.closed:
                return
            try:
                self.writer.write(data)
            except (ConnectionError, RuntimeError):
                self.close()

    def congested(self) -> bool:
        transport = self.writer.transport
        return transport is None or transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT

    def error(self, req_id: int, code: int, message: str) -> None:
        self.send(m.error(req_id, code, message))

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.ready = False
        with contextlib.suppress(Exception):
            self.writer.close()
        if self._writer_task:
            self._writer_task.cancel()
        self._out_event.set()

    # --- connection lifecycle ----------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._handshake()
            while not self.closed:
                fields = await self._read_message()
                self.engine.counter.request(fields)
                if not self._paced(fields):
                    if self._sustained_violation():
                        log.warning(
                            "client %s disconnected: sustained pacing violation", self.client_id
                        )
                        await asyncio.sleep(0.05)  # let the last error 100 go out first
                        break
                    continue
                delay = self._latency_for(fields)
                if delay > 0:
                    asyncio.get_running_loop().call_later(delay, self._dispatch_later, fields)
                    continue
                self.dispatch(fields)
        except (asyncio.IncompleteReadError, ConnectionError, ProtocolError) as exc:
            log.info("client %s disconnected: %s", self.client_id, exc or type(exc).__name__)
        except asyncio.CancelledError:
            pass
        except Exception:  # never let one client take the server down
            log.exception("session for client %s failed", self.client_id)
        finally:
            self.close()
            self.engine.sessions.discard(self)

    async def _read_frame(self) -> bytes:
        header = await self.reader.readexactly(4)
        (size,) = struct.unpack(">I", header)
        if size > MAX_MESSAGE:
            raise ProtocolError(f"message of {size} bytes")
        return await self.reader.readexactly(size)

    async def _read_message(self) -> list[str]:
        return decode_fields(await self._read_frame())

    async def _handshake(self) -> None:
        magic = await asyncio.wait_for(self.reader.readexactly(4), 30)
        if magic != b"API\0":
            raise ProtocolError("bad handshake magic")
        versions = parse_handshake(await asyncio.wait_for(self._read_frame(), 30))
        # Messages are encoded for server version 176 only (ib_insync 0.9.86 offers 157..176).
        if versions is None or not versions[0] <= SERVER_VERSION <= versions[1]:
            raise ProtocolError(f"client versions {versions} do not include {SERVER_VERSION}")
        version = SERVER_VERSION
        now = self.engine.market.now().astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC")
        self.send(encode(version, now))
        fields = await asyncio.wait_for(self._read_message(), 30)
        if not fields or fields[0] != "71":
            raise ProtocolError("expected startApi")
        self.engine.counter.request(fields)
        client_id = int(fields[2])
        if self.engine.client_in_use(client_id):
            self.error(
                -1,
                326,
                "Unable to connect as the client id is already in use. "
                "Retry with a unique client id.",
            )
            await asyncio.sleep(0.05)
            raise ProtocolError(f"client id {client_id} in use")
        self.client_id = client_id
        self.ready = True
        acct = self.engine.account.account_id
        self.send(m.managed_accounts(acct))
        self.send(m.next_valid_id(self.engine.next_order_id))
        farm = "OK" if self.engine.market.farm_up else "broken"
        self.error(
            -1,
            2104 if self.engine.market.farm_up else 2103,
            f"Market data farm connection is {farm}:usfarm",
        )
        self.error(-1, 2106, "HMDS data farm connection is OK:ushmds")
        self.error(-1, 2158, "Sec-def data farm connection is OK:secdefnj")
        if self.engine.faults.connectivity_lost:
            self.error(-1, 1100, "Connectivity between IB and Trader Workstation has been lost.")

    def _latency_for(self, fields: list[str]) -> float:
        """`--latency realistic`: how long IB would take to answer this request."""
        model = self.engine.latency
        if not model.on:
            return 0.0
        kind = DELAYED_KINDS.get(fields[0])
        if kind == "contract_details":
            # A request for a whole chain (option, no strike) takes longer than one contract.
            spec, _ = parse_contract(fields, 3)
            if spec.sec_type == "OPT" and not spec.con_id and not spec.strike:
                kind = "option_chain"
        return model.delay(kind) if kind else 0.0

    def _dispatch_later(self, fields: list[str]) -> None:
        if not self.closed:
            self.dispatch(fields)

    def _sustained_violation(self) -> bool:
        """IB closes a connection that keeps exceeding the message rate: here, violations
        going on for PACING_STRIKE_SECONDS with no quiet second between them (one burst is
        only refused, message by message, with error 100)."""
        now = time.monotonic()
        if now - self._last_violation > 1.0:
            self._streak_start = now
        self._last_violation = now
        return now - self._streak_start >= PACING_STRIKE_SECONDS

    def _paced(self, fields: list[str]) -> bool:
        """IB's 50 messages/second as a token bucket: the excess gets error 100, unprocessed.

        A bucket (rather than a strict 1 s window) tolerates the network jitter between
        ib_insync's own 45-per-second batches, as IB Gateway does in practice.
        """
        limit = self.engine.config.pacing
        if limit <= 0:
            return True
        now = time.monotonic()
        self._tokens = min(float(limit), self._tokens + (now - self._last_refill) * limit)
        self._last_refill = now
        if self._tokens < 1.0:
            self._violations += 1
            self.engine.counter.pacing_rejected += 1
            self.error(
                -1,
                100,
                f"Max rate of messages per second has been exceeded:max={limit} "
                f"rec={limit + self._violations} (1)",
            )
            return False
        self._tokens -= 1.0
        self._violations = 0
        return True

    # --- dispatch ------------------------------------------------------------------------------

    def dispatch(self, f: list[str]) -> None:
        try:
            msg_id = int(f[0])
            handler = HANDLERS.get(msg_id)
            if handler is None:
                self.error(-1, 320, f"Error reading request: unsupported message id {msg_id}")
                return
            handler(self, f)
        except (IndexError, ValueError, KeyError, TypeError) as exc:
            req = -1
            self.error(req, 320, f"Error reading request: {f[:1]} {type(exc).__name__}: {exc}")
        except Exception as exc:
            log.exception("request %s failed", f[:3])
            self.error(-1, 320, f"Error reading request: {type(exc).__name__}")

    # --- simple requests ----------------------------------------------------------------------

    def req_current_time(self, f: list[str]) -> None:
        self.send(m.current_time(int(self.engine.market.now().timestamp())))

    def req_ids(self, f: list[str]) -> None:
        self.send(m.next_valid_id(self.engine.next_order_id))

    def req_managed_accts(self, f: list[str]) -> None:
        self.send(m.managed_accounts(self.engine.account.account_id))


H = Session
HANDLERS = {
    1: H.req_mkt_data,
    2: H.cancel_mkt_data,
    3: combos.place,
    4: H.cancel_order,
    5: H.req_open_orders,
    6: H.req_account_updates,
    7: H.req_executions,
    8: H.req_ids,
    9: H.req_contract_details,
    15: lambda s, f: None,  # reqAutoOpenOrders: acknowledged implicitly
    16: H.req_open_orders,
    17: H.req_managed_accts,
    20: H.req_historical_data,
    22: scanner.req_scanner_subscription,
    23: scanner.cancel_scanner_subscription,
    24: scanner.req_scanner_parameters,
    25: lambda s, f: None,  # cancelHistoricalData
    49: H.req_current_time,
    58: H.req_global_cancel,
    59: H.req_market_data_type,
    61: H.req_positions,
    62: H.req_account_summary,
    63: H.cancel_account_summary,
    64: H.cancel_positions,
    71: lambda s, f: s.error(-1, 320, "Error reading request: API already started"),
    74: H.req_positions_multi,
    75: lambda s, f: None,
    76: H.req_account_updates_multi,
    77: H.cancel_account_updates_multi,
    78: H.req_secdef_opt_params,
    87: H.req_head_timestamp,
    90: lambda s, f: None,
    91: H.req_market_rule,
    92: H.req_pnl,
    93: H.cancel_pnl,
    94: H.req_pnl_single,
    95: lambda s, f: None,
    99: H.req_completed_orders,
    100: wsh.req_meta_data,
    101: wsh.cancel_meta_data,
    102: wsh.req_event_data,
    103: wsh.cancel_event_data,
}
