"""The account requests of one API connection: positions, account values and summary, P&L,
and the pushes the engine sends a connection that subscribed to them.

A mixin of `Session` (session.py), which owns the connection's state and output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tws_sim import messages as m

if TYPE_CHECKING:
    from tws_sim.engine import Engine


class AccountHandlers:
    """reqPositions, reqAccountUpdates(Multi), reqPositionsMulti, reqAccountSummary,
    reqPnL(Single), and the position and account pushes."""

    # What the handlers use of the connection (`Session`'s fields and output).
    engine: Engine
    send: Callable[[bytes], None]
    positions_sub: bool
    account_sub: bool
    multi_subs: set[int]
    summary_subs: dict[int, set[str] | None]
    pnl_subs: set[int]

    def req_positions(self, f: list[str]) -> None:
        self.positions_sub = True
        acct = self.engine.account
        for p in acct.positions.values():
            self.send(m.position(acct.account_id, p.contract, p.qty, round(p.avg_cost, 4)))
        self.send(m.position_end())

    def cancel_positions(self, f: list[str]) -> None:
        self.positions_sub = False

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
