"""The simulator's shared state: market, account, orders, faults, and every connected session.

Sessions (one per API connection) call into the engine; the engine pushes order, execution,
position and account events back to the sessions that subscribed to them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tws_sim import messages as m
from tws_sim.account import Account, commission_for
from tws_sim.contracts import SimContract
from tws_sim.counters import RequestCounter
from tws_sim.latency import LatencyModel
from tws_sim.market import Market
from tws_sim.orders import (
    Execution,
    SimOrder,
    combo_fill_prices,
    combo_net,
    fill_lot,
    fill_price,
    leg_side,
)
from tws_sim.settings import TwsSimSettings

if TYPE_CHECKING:
    from tws_sim.session import Session

log = logging.getLogger("tws_sim")


@dataclass
class Faults:
    latency_ms: float = 0.0
    fill_mode: str = "cross"
    reject_next: tuple[int, str] | None = None
    # Entitlements (market-data subscriptions of the simulated account):
    live_subscription: bool = True  # off → 354 on live requests; delayed data (3/4) only
    wsh_subscribed: bool = True  # Wall Street Horizon (earnings dates); off → 10276
    fundamentals: bool = True  # Reuters fundamentals; off → generic tick 258 gets 10358
    greeks: bool = True  # option model computations; off → no option computation ticks
    # The Gateway's version: off → one of TWS API 10.47 or later, which dropped generic tick 258
    # (fundamental ratios): a reqMktData naming it gets 321 for the whole request.
    tick_258: bool = True
    connectivity_lost: bool = False
    accepting: bool = True


@dataclass
class Engine:
    config: TwsSimSettings
    market: Market = field(init=False)
    account: Account = field(init=False)
    faults: Faults = field(default_factory=Faults)
    sessions: set[Session] = field(default_factory=set)
    orders: dict[int, SimOrder] = field(default_factory=dict)  # perm_id -> order
    executions: list[Execution] = field(default_factory=list)
    next_order_id: int = 1
    counter: RequestCounter = field(default_factory=RequestCounter)

    def __post_init__(self) -> None:
        self.market = Market(
            self.config.seed, self.config.speed, self.config.extra_symbols, start=self.config.start
        )
        self.latency = LatencyModel(self.config.seed, self.config.latency)
        self.faults.live_subscription = self.config.live_data
        self.faults.fundamentals = self.config.fundamentals
        self.faults.greeks = self.config.greeks
        self.faults.wsh_subscribed = self.config.wsh
        self.faults.tick_258 = self.config.tick_258
        self.account = Account(self.market, cash=self.config.cash, account_id=self.config.account)
        self.account.seed_positions()
        self._perm = itertools.count(1_000_000_000 + self.config.seed * 1000)
        self._exec = itertools.count(1)
        # IB never reuses an execution id. Order/perm ids restart with the process (same
        # seed, same numbers), so the id's first part is drawn afresh at every start: a
        # restart against an existing ledger never repeats an id of the account's history.
        self._exec_prefix = secrets.token_hex(4)

    # --- sessions -------------------------------------------------------------------------

    def ready_sessions(self) -> list[Session]:
        return [s for s in self.sessions if s.ready]

    def lines_in_use(self) -> int:
        """Market-data lines held by the account: IB counts them across all client ids."""
        return sum(len(s.lines) + s.pending_snapshots for s in self.sessions if not s.closed)

    def client_in_use(self, client_id: int) -> bool:
        return any(s.ready and s.client_id == client_id for s in self.sessions)

    def broadcast(self, data: bytes) -> None:
        for s in self.ready_sessions():
            s.send(data)

    def drop_all(self) -> int:
        n = 0
        for s in list(self.sessions):
            s.close()
            n += 1
        return n

    # --- orders ---------------------------------------------------------------------------

    def order_for(self, client_id: int, order_id: int) -> SimOrder | None:
        for o in self.orders.values():
            if o.client_id == client_id and o.order_id == order_id:
                return o
        return None

    def new_perm_id(self) -> int:
        return next(self._perm)

    def owner(self, o: SimOrder) -> Session | None:
        for s in self.ready_sessions():
            if s.client_id == o.client_id:
                return s
        return None

    def notify_order(self, o: SimOrder, state: dict | None = None) -> None:
        """openOrder + orderStatus to the client that owns the order (and client 0)."""
        state = state or {"status": o.status}
        oo = m.open_order(o.as_fields(), o.contract, state)
        st = m.order_status(*o.status_fields())
        for s in self.ready_sessions():
            if s.client_id == o.client_id or s.client_id == 0:
                s.send(oo)
                s.send(st)

    def try_fill(self, o: SimOrder) -> bool:
        """Fill (part of) a working order if it is marketable now; True when something filled.

        Outside regular hours nothing fills: the order rests (PreSubmitted) until the open.
        An order larger than the size shown at the touch fills that size per tick."""
        if o.done or o.status not in ("PreSubmitted", "Submitted"):
            return False
        if not self.market.is_open():
            return False
        if o.status == "PreSubmitted":  # held outside regular hours: released at the open
            o.status = "Submitted"
            self.notify_order(o)
        if o.legs:
            prices = combo_fill_prices(self.market, o, self.faults.fill_mode)
            if prices is None:
                return False
            self.fill_combo(o, prices)
            return True
        price = fill_price(self.market, o, self.faults.fill_mode)
        if price is None:
            return False
        qty = o.remaining
        if self.faults.fill_mode != "immediate":
            qty = min(qty, fill_lot(self.market, o))
        self.fill(o, round(price, 4), qty)
        return True

    def check_working(self) -> None:
        for o in list(self.orders.values()):
            if not o.done:
                self.try_fill(o)

    def fill(self, o: SimOrder, price: float, qty: float | None = None) -> None:
        """Book one execution of `qty` (default: all that remains) at `price`."""
        qty = o.remaining if qty is None else qty
        side = "BOT" if o.action == "BUY" else "SLD"
        comm = commission_for(o.contract, qty, price)
        realized = self.account.apply_fill(o.contract, side, qty, price, comm)
        o.avg_fill_price = (o.avg_fill_price * o.filled + price * qty) / (o.filled + qty)
        o.filled += qty
        o.last_fill_price = price
        o.status = "Filled" if o.remaining <= 1e-9 else "Submitted"
        ex = self.record_execution(
            o.order_id,
            o.perm_id,
            o.client_id,
            o.contract,
            side,
            qty,
            price,
            o.order_ref,
            comm,
            realized if realized else None,
            o.filled,
            o.avg_fill_price,
        )
        for s in self.ready_sessions():
            if s.client_id == o.client_id or s.client_id == 0:
                s.send_execution(-1, ex)
        self.notify_order(o)
        for s in self.ready_sessions():
            if s.client_id == o.client_id or s.client_id == 0:
                s.send(m.commission_report(ex.exec_id, ex.commission, ex.realized))
        self.publish_positions({o.contract.con_id})

    def fill_combo(self, o: SimOrder, prices: list[float]) -> None:
        """Fill a BAG order whole: every leg at once, each its own execution (and commission
        report) under the combo's order id, as IB reports a combo's fills."""
        qty = o.remaining
        execs: list[Execution] = []
        for (c, ratio, leg_action), px in zip(o.legs, prices, strict=True):
            side = leg_side(o.action, leg_action)
            leg_qty = qty * ratio
            comm = commission_for(c, leg_qty, px)
            realized = self.account.apply_fill(c, side, leg_qty, px, comm)
            execs.append(
                self.record_execution(
                    o.order_id,
                    o.perm_id,
                    o.client_id,
                    c,
                    side,
                    leg_qty,
                    round(px, 4),
                    o.order_ref,
                    comm,
                    realized if realized else None,
                    leg_qty,
                    round(px, 4),
                )
            )
        net = combo_net(o, prices)
        o.avg_fill_price = (o.avg_fill_price * o.filled + net * qty) / (o.filled + qty)
        o.filled += qty
        o.last_fill_price = net
        o.status = "Filled"
        owners = [s for s in self.ready_sessions() if s.client_id in (o.client_id, 0)]
        for s in owners:
            for ex in execs:
                s.send_execution(-1, ex)
        self.notify_order(o)
        for s in owners:
            for ex in execs:
                s.send(m.commission_report(ex.exec_id, ex.commission, ex.realized))
        self.publish_positions({c.con_id for c, _r, _a in o.legs})

    def record_execution(
        self,
        order_id: int,
        perm_id: int,
        client_id: int,
        c: SimContract,
        side: str,
        qty: float,
        price: float,
        order_ref: str,
        comm: float,
        realized: float | None,
        cum: float,
        avg: float,
    ) -> Execution:
        n = next(self._exec)
        ex = Execution(
            exec_id=f"{self._exec_prefix}.{perm_id & 0xFFFFFFFF:08x}.{n:02x}.01",
            order_id=order_id,
            perm_id=perm_id,
            client_id=client_id,
            contract=c,
            side=side,
            shares=qty,
            price=price,
            time=self.market.now(),
            order_ref=order_ref,
            commission=comm,
            realized=realized,
            cum_qty=cum,
            avg_price=avg,
        )
        self.executions.append(ex)
        return ex

    # --- account fan-out --------------------------------------------------------------------

    def publish_positions(self, con_ids: set[int] | None = None) -> None:
        """Position, portfolio and account-value updates to every subscribed session."""
        for s in self.ready_sessions():
            s.push_positions(con_ids)
            s.push_account()

    def publish_account(self) -> None:
        for s in self.ready_sessions():
            s.push_account()

    # --- expiry -----------------------------------------------------------------------------

    def settle_expired(self) -> list[Execution]:
        """Assign / exercise / expire every held option whose expiry has passed (as IB does)."""
        now = self.market.now()
        out: list[Execution] = []
        touched: set[int] = set()
        for p in list(self.account.positions.values()):
            c = p.contract
            if not c.is_option:
                continue
            if self.market.expiry_at(c.expiry) > now:
                continue
            s = self.market.spot(c.symbol)
            itm = (s - c.strike) if c.right == "C" else (c.strike - s)
            qty = p.qty
            perm = self.new_perm_id()
            close_side = "BOT" if qty < 0 else "SLD"
            realized = self.account.apply_fill(c, close_side, abs(qty), 0.0, 0.0)
            out.append(
                self.record_execution(
                    0, perm, 0, c, close_side, abs(qty), 0.0, "", 0.0, realized, abs(qty), 0.0
                )
            )
            touched.add(c.con_id)
            if itm >= 0.01:
                stock = self.market.by_symbol[c.symbol].contract
                shares = abs(qty) * c.mult
                # short put / long call take delivery; short call / long put deliver.
                buys = (c.right == "P" and qty < 0) or (c.right == "C" and qty > 0)
                side = "BOT" if buys else "SLD"
                r = self.account.apply_fill(stock, side, shares, c.strike, 0.0)
                out.append(
                    self.record_execution(
                        0,
                        self.new_perm_id(),
                        0,
                        stock,
                        side,
                        shares,
                        c.strike,
                        "",
                        0.0,
                        r or None,
                        shares,
                        c.strike,
                    )
                )
                touched.add(stock.con_id)
        for o in self.orders.values():
            if (
                not o.done
                and o.contract.is_option
                and self.market.expiry_at(o.contract.expiry) <= now
            ):
                o.status = "Cancelled"
                self.notify_order(o)
        if out:
            for ex in out:
                for s in self.ready_sessions():
                    s.send_execution(-1, ex)
                    s.send(m.commission_report(ex.exec_id, 0.0, ex.realized))
            self.publish_positions(touched)
            log.info("settled %d expiry executions", len(out))
        return out

    def next_expiry_held(self) -> float | None:
        times = []
        for p in self.account.positions.values():
            if p.contract.is_option:
                times.append(self.market.years_to(p.contract.expiry))
        return min(times) if times else None

    # --- faults -----------------------------------------------------------------------------

    async def restart(self, listener_ctl, down_seconds: float) -> None:
        self.faults.accepting = False
        await listener_ctl.stop()
        self.drop_all()
        await asyncio.sleep(down_seconds)
        await listener_ctl.start()
        self.faults.accepting = True

    def state(self) -> dict:
        return {
            "account_id": self.account.account_id,
            "cash": round(self.account.cash, 2),
            "net_liquidation": round(self.account.net_liquidation(), 2),
            "positions": self.account.describe(),
            "orders": self.orders_state(),
            "executions": [e.describe() for e in self.executions],
            "connections": len(self.ready_sessions()),
            "sim_time": self.market.now().isoformat(),
            "market": self.market_clock(),
            "entitlements": self.entitlements(),
            "latency": self.latency.mode,
            "faults": {
                "latency_ms": self.faults.latency_ms,
                "fill_mode": self.faults.fill_mode,
                "live_subscription": self.faults.live_subscription,
                "wsh_subscribed": self.faults.wsh_subscribed,
                "tick_258": self.faults.tick_258,
                "connectivity_lost": self.faults.connectivity_lost,
                "farm_up": self.market.farm_up,
                "accepting": self.faults.accepting,
            },
        }

    def entitlements(self) -> dict:
        f = self.faults
        return {
            "live": f.live_subscription,
            "fundamentals": f.fundamentals,
            "greeks": f.greeks,
            "wsh": f.wsh_subscribed,
        }

    def market_clock(self) -> dict:
        """Is the simulated market open, and its time (what a demo header shows)."""
        mk = self.market
        now = mk.now()
        nxt = mk.calendar.next_open(now)
        hours = mk.calendar.hours(now.astimezone(mk.calendar_tz).date())
        return {
            "open": mk.is_open(now),
            "time": now.astimezone(mk.calendar_tz).isoformat(),
            "session_today": (
                {"open": hours[0].isoformat(), "close": hours[1].isoformat()} if hours else None
            ),
            "last_close": mk.last_close().isoformat(),
            "next_open": nxt.isoformat() if nxt else None,
        }

    def orders_state(self) -> list[dict]:
        return [o.describe() for o in self.orders.values()]
