"""One API connection: handshake, request dispatch, market-data lines, pacing and latency."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import struct
import time
from dataclasses import dataclass, field
from datetime import UTC, date

from tws_sim import combos, scanner, spreads, wsh
from tws_sim import messages as m
from tws_sim.contracts import SimContract
from tws_sim.engine import Engine
from tws_sim.lookup import details_extra, resolve
from tws_sim.orders import SimOrder
from tws_sim.protocol import (
    MAX_MESSAGE,
    SERVER_VERSION,
    ProtocolError,
    decode_fields,
    encode,
    parse_handshake,
)
from tws_sim.requests import OrderRequest, parse_contract, parse_duration_days
from tws_sim.ticks import Line, quote_ticks

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
class Session:
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

    def effective_type(self, requested: int | None = None) -> int:
        """The data type a line gets now, as IB decides it: live whenever live data is
        entitled and the market is open; outside regular hours frozen (2, or 4 when delayed)
        only if the client asked for frozen; delayed (3/4) only without live entitlement."""
        t = self.data_type if requested is None else requested
        live = self.engine.faults.live_subscription
        frozen = t in (2, 4) and not self.engine.market.is_open()
        if live:
            return 2 if frozen else 1
        return 4 if frozen else 3

    def req_market_data_type(self, f: list[str]) -> None:
        t = int(f[2])
        if t not in (1, 2, 3, 4):
            self.error(-1, 321, f"Error validating request: invalid market data type {t}")
            return
        self.data_type = t

    def req_positions(self, f: list[str]) -> None:
        self.positions_sub = True
        acct = self.engine.account
        for p in acct.positions.values():
            self.send(m.position(acct.account_id, p.contract, p.qty, round(p.avg_cost, 4)))
        self.send(m.position_end())

    def cancel_positions(self, f: list[str]) -> None:
        self.positions_sub = False

    def req_open_orders(self, f: list[str]) -> None:
        for o in self.engine.orders.values():
            if not o.done and (
                o.client_id == self.client_id or self.client_id == 0 or f[0] == "16"
            ):
                self.send(m.open_order(o.as_fields(), o.contract, {"status": o.status}))
                self.send(
                    m.order_status(
                        o.order_id,
                        o.status,
                        o.filled,
                        o.remaining,
                        o.avg_fill_price,
                        o.perm_id,
                        o.last_fill_price,
                        o.client_id,
                    )
                )
        self.send(m.open_order_end())

    def req_completed_orders(self, f: list[str]) -> None:
        when = self.engine.market.now().strftime("%Y%m%d %H:%M:%S") + " UTC"
        for o in self.engine.orders.values():
            if o.done:
                self.send(m.completed_order(o.as_fields(), o.contract, o.status, o.filled, when))
        self.send(m.completed_orders_end())

    def req_account_updates(self, f: list[str]) -> None:
        subscribe = f[2] == "1"
        self.account_sub = subscribe
        if subscribe:
            self.push_account(full=True)
            self.send(m.account_download_end(self.engine.account.account_id))

    def req_account_updates_multi(self, f: list[str]) -> None:
        req_id = int(f[2])
        acct = self.engine.account
        self.multi_subs.add(req_id)
        for k, v, cur in acct.values():
            self.send(m.account_update_multi(req_id, acct.account_id, k, v, cur))
        self.send(m.account_update_multi_end(req_id))

    def cancel_account_updates_multi(self, f: list[str]) -> None:
        self.multi_subs.discard(int(f[2]))

    def req_positions_multi(self, f: list[str]) -> None:
        req_id = int(f[2])
        acct = self.engine.account
        for p in acct.positions.values():
            self.send(m.position_multi(req_id, acct.account_id, p.contract, p.qty, p.avg_cost))
        self.send(m.position_multi_end(req_id))

    def req_account_summary(self, f: list[str]) -> None:
        req_id = int(f[2])
        tags = {t.strip() for t in f[4].split(",") if t.strip()}
        wanted = None if not tags or "All" in tags or "$LEDGER" in tags else tags
        self.summary_subs[req_id] = wanted
        acct = self.engine.account
        for k, v, cur in acct.summary(wanted):
            self.send(m.account_summary(req_id, acct.account_id, k, v, cur))
        self.send(m.account_summary_end(req_id))

    def cancel_account_summary(self, f: list[str]) -> None:
        self.summary_subs.pop(int(f[2]), None)

    def req_pnl(self, f: list[str]) -> None:
        req_id = int(f[1])
        self.pnl_subs.add(req_id)
        a = self.engine.account
        daily = a.net_liquidation() - a.start_net_liq
        self.send(m.pnl(req_id, round(daily, 2), round(a.unrealized(), 2), round(a.realized, 2)))

    def cancel_pnl(self, f: list[str]) -> None:
        self.pnl_subs.discard(int(f[1]))

    def req_pnl_single(self, f: list[str]) -> None:
        req_id, con_id = int(f[1]), int(f[4])
        a = self.engine.account
        p = a.positions.get(con_id)
        if p is None:
            self.send(m.pnl_single(req_id, 0, 0.0, 0.0, 0.0, 0.0))
            return
        value = a.market_value(p)
        unreal = value - p.qty * p.avg_cost
        self.send(
            m.pnl_single(
                req_id,
                p.qty,
                round(unreal, 2),
                round(unreal, 2),
                round(p.realized, 2),
                round(value, 2),
            )
        )

    def req_executions(self, f: list[str]) -> None:
        req_id = int(f[2])
        client, _acct, _time, symbol, sec_type, _exch, side = f[3:10]
        for ex in self.engine.executions:
            if client and int(client) not in (0, ex.client_id) and ex.client_id != 0:
                continue
            if symbol and ex.contract.symbol != symbol.upper():
                continue
            if sec_type and ex.contract.sec_type != sec_type.upper():
                continue
            if side and not ex.side.startswith(side.upper()[:1]):
                continue
            self.send_execution(req_id, ex)
            self.send(m.commission_report(ex.exec_id, ex.commission, ex.realized))
        self.send(m.exec_details_end(req_id))

    def send_execution(self, req_id: int, ex) -> None:
        self.send(
            m.exec_details(
                req_id,
                ex.order_id,
                ex.contract,
                ex.exec_id,
                ex.time_str,
                self.engine.account.account_id,
                ex.side,
                ex.shares,
                ex.price,
                ex.perm_id,
                ex.client_id,
                ex.cum_qty,
                ex.avg_price,
                ex.order_ref,
            )
        )

    # --- contracts ----------------------------------------------------------------------------

    def req_contract_details(self, f: list[str]) -> None:
        req_id = int(f[2])
        spec, _ = parse_contract(f, 3)
        found = resolve(self.engine.market, spec)
        if not found:
            self.error(req_id, 200, "No security definition has been found for the request")
            return
        market = self.engine.market
        for c in found:
            self.send(m.contract_details(req_id, c, details_extra(market, c)))
        self.send(m.contract_details_end(req_id))

    def req_market_rule(self, f: list[str]) -> None:
        """reqMarketRule: the price increments of a rule id from contract details."""
        rule_id = int(f[1])
        if rule_id not in spreads.MARKET_RULE_IDS.values():
            self.error(-1, 321, f"Error validating request: unknown market rule {rule_id}")
            return
        self.send(m.market_rule(rule_id, spreads.market_rule_increments(rule_id)))

    def req_secdef_opt_params(self, f: list[str]) -> None:
        req_id = int(f[1])
        symbol = f[2].upper()
        con_id = int(f[5] or 0)
        market = self.engine.market
        stock = market.by_symbol.get(symbol)
        if stock is None or (con_id and con_id != stock.contract.con_id):
            self.error(req_id, 200, "No security definition has been found for the request")
            return
        exps = market.expiries(symbol)
        codes = [e.code for e in exps]
        strikes = sorted({k for e in exps for k in e.strikes})
        for exch in ("SMART", "CBOE", "AMEX", "ISE"):
            self.send(m.secdef_params(req_id, exch, stock.contract.con_id, symbol, codes, strikes))
        self.send(m.secdef_params_end(req_id))

    # --- market data --------------------------------------------------------------------------

    def req_mkt_data(self, f: list[str]) -> None:
        req_id = int(f[2])
        spec, i = parse_contract(f, 3)
        if spec.sec_type == "BAG":
            self.error(req_id, 321, "Error validating request: combos are not simulated")
            return
        if f[i] == "1":
            i += 3
        i += 1
        generic = {g.strip() for g in f[i].split(",") if g.strip()}
        snapshot = f[i + 1] == "1"
        found = resolve(self.engine.market, spec)
        if len(found) != 1:
            self.error(req_id, 200, "No security definition has been found for the request")
            return
        if snapshot and generic:
            self.error(
                req_id,
                321,
                "Error validating request.-'bW' : cause - Snapshot market "
                "data subscription is not applicable to generic ticks",
            )
            return
        if req_id in self.lines:
            self.error(
                req_id,
                322,
                f"Error processing request.-'bW' : cause - Duplicate ticker id = {req_id}",
            )
            return
        if self.engine.lines_in_use() >= self.engine.config.max_lines:
            self.error(req_id, 101, "Max number of tickers has been reached")
            return
        faults = self.engine.faults
        if not faults.live_subscription and self.data_type in (1, 2):
            self.error(
                req_id,
                354,
                "Requested market data is not subscribed. Delayed market data is available.",
            )
            return
        if "258" in generic and not faults.fundamentals and not found[0].is_option:
            # IB answers the missing Reuters fundamentals entitlement and streams the rest.
            self.error(req_id, 10358, "Fundamentals data is not allowed.")
        line = Line(
            req_id,
            found[0],
            generic,
            snapshot,
            self.effective_type(),
            greeks=faults.greeks,
            fundamentals=faults.fundamentals,
            requested_type=self.data_type,
        )
        if not faults.live_subscription:
            # IB's warning on every line it serves delayed (ib_insync logs it as a warning).
            self.error(
                req_id,
                10167,
                "Requested market data is not subscribed. Displaying delayed market data.",
            )
        self.engine.counter.market_data(snapshot, generic)
        if snapshot:
            kind = "option_snapshot" if line.contract.is_option else "stock_snapshot"
            delay = self.engine.config.snapshot_latency_ms / 1000 or self.engine.latency.delay(kind)
            if delay > 0:
                self.pending_snapshots += 1
                asyncio.get_running_loop().call_later(delay, self._snapshot_done, line)
            else:
                self._send_snapshot(line)
            return
        self.lines[req_id] = line
        self.send(m.market_data_type(req_id, line.data_type))
        self.send(m.tick_req_params(req_id))
        if self.engine.market.farm_up and not self.engine.faults.connectivity_lost:
            self.send_quote(line, full=True)

    def _snapshot_done(self, line: Line) -> None:
        self.pending_snapshots -= 1
        if not self.closed:
            self._send_snapshot(line)

    def _send_snapshot(self, line: Line) -> None:
        self.send(m.market_data_type(line.req_id, line.data_type))
        self.send_quote(line, full=True)
        self.send(m.tick_snapshot_end(line.req_id))

    def cancel_mkt_data(self, f: list[str]) -> None:
        self.lines.pop(int(f[2]), None)

    def send_quote(self, line: Line, full: bool = False) -> int:
        """Ticks for one line: everything when `full`, otherwise what changed; how many sent."""
        ticks = quote_ticks(self.engine.market, line, full)
        for data in ticks:
            self.send(data)
        return len(ticks)

    def stream(self) -> None:
        """Called by the tick loop: changed quotes for every streaming line of this client."""
        for line in self.lines.values():
            now_type = self.effective_type(line.requested_type)
            if now_type != line.data_type:  # frozen at the close, live again at the open
                line.data_type = now_type
                self.send(m.market_data_type(line.req_id, now_type))
                self.send_quote(line, full=True)
        moving = [line for line in self.lines.values() if line.data_type not in (2, 4)]
        if self.congested():
            self.engine.counter.streamed(skipped=len(moving))
            return
        for line in moving:  # frozen data (types 2, 4) does not move
            self.engine.counter.streamed(ticks=self.send_quote(line))

    def resend_all(self) -> None:
        for line in list(self.lines.values()):
            self.send_quote(line, full=True)

    # --- historical data ----------------------------------------------------------------------

    def req_historical_data(self, f: list[str]) -> None:
        req_id = int(f[1])
        spec, i = parse_contract(f, 2)
        _include_expired, _end, bar_size, duration, _rth, what, _fmt = f[i : i + 7]
        found = resolve(self.engine.market, spec)
        if len(found) != 1:
            self.error(req_id, 200, "No security definition has been found for the request")
            return
        c = found[0]
        if c.is_option:
            self.error(
                req_id,
                162,
                "Historical Market Data Service error message:HMDS query returned no data",
            )
            return
        if bar_size.strip().lower() not in ("1 day", "1 d"):
            self.error(
                req_id,
                162,
                "Historical Market Data Service error message:the simulator serves daily bars only",
            )
            return
        what = what.upper()
        kind = {
            "TRADES": "TRADES",
            "MIDPOINT": "TRADES",
            "BID": "TRADES",
            "ASK": "TRADES",
            "ADJUSTED_LAST": "TRADES",
            "BID_ASK": "TRADES",
            "OPTION_IMPLIED_VOLATILITY": "OPTION_IMPLIED_VOLATILITY",
            "HISTORICAL_VOLATILITY": "HISTORICAL_VOLATILITY",
        }.get(what)
        if kind is None:
            self.error(req_id, 321, f"Error validating request: invalid whatToShow {what}")
            return
        days = parse_duration_days(duration)
        bars = self.engine.market.daily_bars(c.symbol, kind, days)
        now = self.engine.market.now()
        start = now.date().toordinal() - days
        start_s = date.fromordinal(start).strftime("%Y%m%d") + " 00:00:00"
        end_s = now.strftime("%Y%m%d %H:%M:%S")
        self.send(m.historical_data(req_id, start_s, end_s, bars))

    def req_head_timestamp(self, f: list[str]) -> None:
        req_id = int(f[1])
        self.send(encode(88, req_id, "20231201"))

    # --- orders --------------------------------------------------------------------------------

    def place_order(self, req: OrderRequest) -> None:
        eng = self.engine
        found = resolve(eng.market, req.contract)
        if len(found) != 1:
            self.error(req.order_id, 200, "No security definition has been found for the request")
            return
        c = found[0]
        if req.action not in ("BUY", "SELL"):
            self.error(req.order_id, 321, f"Error validating request: invalid action {req.action}")
            return
        if req.quantity <= 0:
            self.error(req.order_id, 321, "Error validating request: order size must be > 0")
            return
        if req.order_type not in ("LMT", "MKT"):
            self.error(
                req.order_id,
                387,
                f"Unsupported order type for this exchange and security type: {req.order_type}",
            )
            return
        if req.order_type == "LMT" and (req.lmt_price is None or req.lmt_price <= 0):
            self.error(req.order_id, 321, "Error validating request: limit price is missing")
            return
        if req.account and req.account != eng.account.account_id:
            self.error(
                req.order_id, 321, f"Error validating request: unknown account {req.account}"
            )
            return
        if req.order_type == "LMT" and c.is_option and req.lmt_price is not None:
            liquidity = eng.market.by_symbol[c.symbol].liquidity
            if spreads.off_tick_neighbours(liquidity, req.lmt_price) is not None:
                # Real IB: the order is never created (a placed one ends Inactive).
                self.error(
                    req.order_id,
                    110,
                    "The price does not conform to the minimum price variation for this contract.",
                )
                if not req.what_if:
                    o = self._new_order(req, c)
                    o.status = "Inactive"
                    eng.orders[o.perm_id] = o
                    # ib_insync counts 110 as a warning: the Inactive status ends the trade.
                    eng.notify_order(o)
                return
        eng.next_order_id = max(eng.next_order_id, req.order_id + 1)
        side = "BOT" if req.action == "BUY" else "SLD"
        if req.what_if:
            from tws_sim.orders import touch_price

            bid, ask = touch_price(eng.market, c, req.action)
            px = req.lmt_price if req.lmt_price is not None else (ask if side == "BOT" else bid)
            state = {"status": "PreSubmitted", **eng.account.what_if(c, side, req.quantity, px)}
            fields = {
                "order_id": req.order_id,
                "perm_id": 0,
                "client_id": self.client_id,
                "action": req.action,
                "quantity": req.quantity,
                "order_type": req.order_type,
                "lmt_price": req.lmt_price,
                "aux_price": req.aux_price,
                "tif": req.tif,
                "account": eng.account.account_id,
                "order_ref": req.order_ref,
                "what_if": True,
            }
            self.send(m.open_order(fields, c, state))
            return
        existing = eng.order_for(self.client_id, req.order_id)
        if existing is not None:
            if existing.done:
                self.error(req.order_id, 104, f"Can't modify a filled order. ({existing.status})")
                return
            existing.quantity = req.quantity
            existing.lmt_price = req.lmt_price
            existing.order_type = req.order_type
            existing.order_ref = req.order_ref
            existing.tif = req.tif
            eng.notify_order(existing)
            eng.try_fill(existing)
            return
        if eng.faults.reject_next is not None:
            code, message = eng.faults.reject_next
            eng.faults.reject_next = None
            o = self._new_order(req, c)
            o.status = "Inactive"
            eng.orders[o.perm_id] = o
            self.error(req.order_id, code, message)
            return
        o = self._new_order(req, c)
        eng.orders[o.perm_id] = o
        eng.notify_order(o)
        if not eng.market.is_open():
            # Outside regular hours IB holds the order (PreSubmitted) until the open.
            return
        o.status = "Submitted"
        eng.notify_order(o)
        eng.try_fill(o)

    def _new_order(self, req, c: SimContract, perm_id: int | None = None) -> SimOrder:
        return SimOrder(
            order_id=req.order_id,
            perm_id=self.engine.new_perm_id() if perm_id is None else perm_id,
            client_id=self.client_id,
            contract=c,
            action=req.action,
            quantity=req.quantity,
            order_type=req.order_type,
            lmt_price=req.lmt_price,
            aux_price=req.aux_price,
            tif=req.tif,
            account=self.engine.account.account_id,
            order_ref=req.order_ref,
            open_close=req.open_close,
        )

    def cancel_order(self, f: list[str]) -> None:
        order_id = int(f[2])
        o = self.engine.order_for(self.client_id, order_id)
        if o is None:
            self.error(order_id, 135, f"Can't find order with id ={order_id}")
            return
        if o.done:
            self.error(
                order_id,
                10148,
                f"OrderId {order_id} that needs to be cancelled cannot "
                f"be cancelled, state: {o.status}.",
            )
            return
        o.status = "Cancelled"
        self.engine.notify_order(o)
        self.error(order_id, 202, "Order Canceled - reason:")

    def req_global_cancel(self, f: list[str]) -> None:
        for o in self.engine.orders.values():
            if not o.done:
                o.status = "Cancelled"
                self.engine.notify_order(o)

    # --- pushes from the engine -----------------------------------------------------------------

    def push_positions(self, con_ids: set[int] | None) -> None:
        acct = self.engine.account
        if self.positions_sub:
            for cid in con_ids or set(acct.positions):
                p = acct.positions.get(cid)
                if p is not None:
                    self.send(m.position(acct.account_id, p.contract, p.qty, round(p.avg_cost, 4)))
                else:
                    c = self.engine.market.contract_by_con_id(cid)
                    if c is not None:
                        self.send(m.position(acct.account_id, c, 0, 0.0))
        if self.account_sub and con_ids:
            for cid in con_ids:
                if cid not in acct.positions:
                    c = self.engine.market.contract_by_con_id(cid)
                    if c is not None:
                        self.send(m.portfolio(c, 0, 0.0, 0.0, 0.0, 0.0, 0.0, acct.account_id))

    def push_account(self, full: bool = False) -> None:
        acct = self.engine.account
        if self.account_sub:
            for k, v, cur in acct.values():
                self.send(m.account_value(k, v, cur, acct.account_id))
            for p in acct.positions.values():
                price = acct.mark(p.contract)
                value = p.qty * price * p.contract.mult
                self.send(
                    m.portfolio(
                        p.contract,
                        p.qty,
                        price,
                        round(value, 2),
                        round(p.avg_cost, 4),
                        round(value - p.qty * p.avg_cost, 2),
                        round(p.realized, 2),
                        acct.account_id,
                    )
                )
            self.send(m.account_time(self.engine.market.now().strftime("%H:%M")))
        for req_id in self.multi_subs:
            for k, v, cur in acct.values():
                self.send(m.account_update_multi(req_id, acct.account_id, k, v, cur))
        for req_id, wanted in self.summary_subs.items():
            for k, v, cur in acct.summary(wanted):
                self.send(m.account_summary(req_id, acct.account_id, k, v, cur))
            self.send(m.account_summary_end(req_id))


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
