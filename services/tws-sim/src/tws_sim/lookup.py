"""Resolve a client's (partial) contract to the simulator's contracts, as reqContractDetails does."""

from __future__ import annotations

from tws_sim import spreads
from tws_sim.contracts import SimContract, option_contract
from tws_sim.market import Market
from tws_sim.requests import ContractSpec

MAX_MATCHES = 5000


def resolve(market: Market, spec: ContractSpec) -> list[SimContract]:
    if spec.con_id > 0:
        c = market.contract_by_con_id(spec.con_id)
        return [c] if c else []
    stock = market.by_symbol.get(spec.symbol)
    if stock is None and spec.local_symbol and spec.sec_type == "OPT":
        stock = market.by_symbol.get(spec.local_symbol[:6].strip())
    if stock is None:
        return []
    if spec.currency not in ("", "USD"):
        return []
    if spec.sec_type in ("STK", ""):
        if spec.sec_type == "" and (spec.expiry or spec.strike or spec.right):
            return []
        return [stock.contract]
    if spec.sec_type != "OPT":
        return []
    if spec.trading_class not in ("", stock.symbol):
        return []
    if spec.multiplier not in ("", "100", "100.0"):
        return []
    if spec.right not in ("", "C", "P"):
        return []
    out: list[SimContract] = []
    for exp in market.expiries(stock.symbol):
        if spec.expiry and not exp.code.startswith(spec.expiry):
            continue
        for k in exp.strikes:
            if spec.strike and abs(k - spec.strike) > 1e-6:
                continue
            for right in ("C", "P"):
                if spec.right and right != spec.right:
                    continue
                c = option_contract(stock, exp, k, right)
                if spec.local_symbol and spec.local_symbol.replace(
                    " ", ""
                ) != c.local_symbol.replace(" ", ""):
                    continue
                out.append(c)
                if len(out) >= MAX_MATCHES:
                    return out
    return out


def details_extra(market: Market, c: SimContract) -> dict:
    """The descriptive parts of a ContractDetails reply."""
    stock = market.by_symbol[c.symbol]
    # IB lists a week from today: CLOSED on weekends and holidays, 1300 on early closes.
    hours = market.calendar.ib_hours(market.now())
    d = {
        "long_name": stock.name,
        "industry": stock.sector,
        "category": stock.industry,
        "subcategory": stock.industry,
        "trading_hours": hours,
        "liquid_hours": hours,
        "market_name": c.trading_class if c.is_option else "NMS",
    }
    if c.is_option:
        d.update(
            under_con_id=stock.contract.con_id,
            under_symbol=stock.symbol,
            under_sec_type="STK",
            contract_month=c.expiry[:6],
            # One rule per valid exchange (SMART and the six option exchanges), as IB lists them.
            min_tick=spreads.LIQUIDITY[stock.liquidity].fine_tick,
            market_rule_ids=",".join([str(spreads.MARKET_RULE_IDS[stock.liquidity])] * 7),
        )
    return d
