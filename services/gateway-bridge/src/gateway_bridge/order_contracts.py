"""An order request's contract as IB lists it, and the tick grid its limit must be on.

Preview, place, a combo's legs (`combos`) and re-pricing (`repricing`) all ask IB for the
same things: the contract's details (conId, trading class, market rules) and the price
increments of its market rule. Both are fixed within a session, so they are cached here.
"""

from __future__ import annotations

import copy
from typing import Any

from ib_insync import Contract, RequestError
from wheeldesk.errors import ServiceError
from wheeldesk.schemas.orders import OrderRequest

from gateway_bridge.cache import TTLCache
from gateway_bridge.guards import off_tick_problem
from gateway_bridge.trades import build_contract


class OrderContracts:
    """Mixed into `OrderService` (its market data `md` and IB session)."""

    def _init_contracts(self, secdef_cache_seconds: float) -> None:
        # marketRuleId -> its price increments; rules never change within a session.
        self._market_rules: dict[int, list[Any]] = {}
        # conId -> its marketRuleIds (from contract details): the tick grid of a suggestion.
        self._rule_ids: dict[int, str] = {}
        self._contract_details = TTLCache(secdef_cache_seconds)

    async def _details(self, req: OrderRequest) -> Any:
        """IB's contract details of the request's contract, kept for the sec-def TTL: a listed
        contract's conId, trading class and market rules do not change within a session, and
        asking again cost every preview and place a round trip (~0.3 s at IB). An unknown
        contract is a 404 and is not kept."""
        key = (req.symbol.upper(), req.sec_type, req.expiry, req.strike, req.right)

        async def fetch() -> Any:
            contract = build_contract(req)
            try:
                details = await self.md.call(lambda: self.ib.reqContractDetailsAsync(contract))
            except RequestError as exc:
                if exc.code != 200:
                    raise
                details = []
            if not details:
                what = "option" if req.sec_type == "OPT" else "stock"
                raise ServiceError(
                    404,
                    "unknown_contract",
                    f"IBKR knows no {what} {req.symbol}"
                    + (f" {req.expiry} {req.strike:g}{req.right}" if req.sec_type == "OPT" else ""),
                    field="symbol",
                )
            return details[0]

        return await self._contract_details.get_or_fetch(key, fetch)

    async def _qualified(self, req: OrderRequest) -> Contract:
        details = await self._details(req)
        if req.sec_type == "OPT" and req.order_type == "LMT" and req.limit_price is not None:
            await self._check_tick(float(req.limit_price), details.marketRuleIds or "")
        c = copy.copy(details.contract)
        self._rule_ids[c.conId] = details.marketRuleIds or ""
        c.lastTradeDateOrContractMonth = (c.lastTradeDateOrContractMonth or "").split(" ")[0]
        c.exchange = "SMART"
        return c

    async def _increments(self, rule_ids: str) -> list[tuple[float, float]]:
        """The (lowEdge, increment) pairs of a contract's SMART market rule (cached)."""
        ids = [int(x) for x in rule_ids.split(",") if x.strip().isdigit()]
        if not ids:
            return []
        rule_id = ids[0]  # SMART's rule: the first of the valid exchanges
        rules = self._market_rules
        if rule_id not in rules:
            rules[rule_id] = list(
                await self.md.call(lambda: self.ib.reqMarketRuleAsync(rule_id)) or []
            )
        return [(r.lowEdge, r.increment) for r in rules[rule_id]]

    async def _check_tick(self, price: float, rule_ids: str) -> None:
        """422 for a limit off the contract's tick, before IB answers it with error 110."""
        increments = await self._increments(rule_ids)
        if not increments:
            return
        problem = off_tick_problem(price, increments)
        if problem:
            raise ServiceError(422, "limit_off_tick", problem, field="limit_price")
