"""BAG (combo) orders: a roll's legs placed as one order on options of one underlying.

The what-if reports the whole combo; the limit is IB's net (negative = a credit); the fill is
all-or-nothing (`orders.combo_fill_prices`, `Engine.fill_combo`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tws_sim import messages as m
from tws_sim.contracts import SimContract
from tws_sim.orders import bag_contract, combo_what_if
from tws_sim.requests import OrderRequest, parse_place_order

if TYPE_CHECKING:
    from tws_sim.session import Session


def place(self: Session, f: list[str]) -> None:
    """placeOrder (msg 3): a BAG goes to `place_combo`, one contract to `Session.place_order`."""
    req = parse_place_order(f)
    if req.contract.sec_type == "BAG":
        place_combo(self, req)
    else:
        self.place_order(req)


def _legs(self: Session, req: OrderRequest) -> list[tuple[SimContract, int, str]] | None:
    """The BAG's legs as listed contracts, or None after IB's error for one it cannot resolve."""
    eng, oid = self.engine, req.order_id
    legs: list[tuple[SimContract, int, str]] = []
    for con_id, ratio, action in req.combo_legs:
        c = eng.market.contract_by_con_id(con_id)
        if (
            c is None
            or not c.is_option
            or c.symbol != req.contract.symbol
            or ratio <= 0
            or action not in ("BUY", "SELL")
        ):
            # IB's answer to a combo whose leg it cannot resolve: no order is created.
            self.error(oid, 200, "No security definition has been found for the request")
            return None
        legs.append((c, ratio, action))
    if len({c.con_id for c, _r, _a in legs}) != len(legs):
        self.error(oid, 321, "Error validating request: combo legs must be distinct")
        return None
    return legs


def place_combo(self: Session, req: OrderRequest) -> None:
    """A BAG order on options of one underlying: what-if for the whole combo, a net limit
    (negative = credit, IB's convention), all legs filled together when marketable."""
    eng = self.engine
    oid = req.order_id
    if not req.combo_legs:
        self.error(
            oid,
            321,
            "Error validating request.-'bN' : cause - "
            "Security type 'BAG' requires combo leg details.",
        )
        return
    legs = _legs(self, req)
    if legs is None:
        return
    problem = self._order_problem(req, credit=True)
    if problem is not None:
        self.error(oid, *problem)
        return
    eng.next_order_id = max(eng.next_order_id, oid + 1)
    # A what-if never becomes an order: it takes no perm id.
    o = self._new_order(req, bag_contract(req.contract.symbol), 0 if req.what_if else None)
    o.legs = legs
    if req.what_if:
        state = {"status": "PreSubmitted", **combo_what_if(eng.account, o)}
        fields = {**o.as_fields(), "what_if": True}
        self.send(m.open_order(fields, o.contract, state))
        return
    existing = eng.order_for(self.client_id, oid)
    if existing is not None:
        self._modify_order(existing, req)
        return
    self._submit(o)
