"""Market-data ticks for one line: what a stock or option subscription sends, per data type."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tws_sim import messages as m
from tws_sim.contracts import SimContract
from tws_sim.market import Market


@dataclass(slots=True)
class Line:
    req_id: int
    contract: SimContract
    generic: set[str]
    snapshot: bool
    data_type: int  # what the line gets: 1 live, 2 frozen, 3 delayed, 4 delayed frozen
    sent_static: bool = False
    last: tuple = ()
    greeks: bool = True  # option model computations entitled
    fundamentals: bool = True  # generic tick 258 entitled
    requested_type: int = 1  # what the client asked for (reqMarketDataType)


# IB's "no price" in a tick: bid/ask outside regular hours on a live line.
NO_PRICE = -1.0


def quote_ticks(market: Market, line: Line, full: bool = False) -> list[bytes]:
    """Ticks for one line: everything when `full`, otherwise what changed.

    Outside regular hours a live or delayed line has no bid/ask (price -1, size 0) while
    last and close stay; a frozen line (2, 4) shows the last regular session's bid/ask."""
    c = line.contract
    delayed = line.data_type in (3, 4)
    frozen = line.data_type in (2, 4)
    closed = not frozen and not market.is_open()
    tt = (lambda t: m.DELAYED.get(t, t)) if delayed else (lambda t: t)
    rid = line.req_id
    out: list[bytes] = []
    if c.is_option:
        q = market.option_quote(c, at=market.last_close() if frozen else None)
        bid, ask = (NO_PRICE, NO_PRICE) if closed else (q.bid, q.ask)
        bid_size, ask_size = (0, 0) if closed else (q.bid_size, q.ask_size)
        key = (bid, ask, round(q.under, 2))
        if not full and key == line.last:
            return []
        line.last = key
        out.append(m.tick_price(rid, tt(m.BID), bid, bid_size))
        out.append(m.tick_price(rid, tt(m.ASK), ask, ask_size))
        if not line.greeks:  # no model computations without the entitlement
            if full:
                out.append(m.tick_price(rid, tt(m.LAST), q.last, 1))
                out.append(m.tick_size(rid, tt(m.VOLUME), q.volume))
                out.append(m.tick_price(rid, tt(m.CLOSE), q.last, 0))
                # Option volume and open interest are exchange data, not model greeks: IB
                # still sends them without the greeks entitlement.
                call = c.right == "C"
                if "100" in line.generic:
                    out.append(m.tick_size(rid, m.CALL_VOLUME if call else m.PUT_VOLUME, q.volume))
                if "101" in line.generic:
                    out.append(m.tick_size(rid, m.CALL_OI if call else m.PUT_OI, q.open_interest))
            return out
        g = q.model
        ot = (lambda t: m.DELAYED_OPTION[t]) if delayed else (lambda t: t)
        vega_iv = g.vega * 100 if g.vega > 1e-9 else None
        for tick, price in ((m.BID_OPTION, bid), (m.ASK_OPTION, ask)):
            if closed:  # no bid/ask, so no implied volatility from them
                continue
            iv = q.iv + (price - g.price) / vega_iv if vega_iv else q.iv
            out.append(
                m.tick_option(
                    rid,
                    ot(tick),
                    max(iv, 0.01),
                    g.delta,
                    price,
                    q.pv_dividend,
                    g.gamma,
                    g.vega,
                    g.theta,
                    q.under,
                )
            )
        out.append(
            m.tick_option(
                rid,
                ot(m.MODEL_OPTION),
                q.iv,
                g.delta,
                g.price,
                q.pv_dividend,
                g.gamma,
                g.vega,
                g.theta,
                q.under,
            )
        )
        if full:
            out.append(m.tick_price(rid, tt(m.LAST), q.last, 1))
            out.append(
                m.tick_option(
                    rid,
                    ot(m.LAST_OPTION),
                    q.iv,
                    g.delta,
                    q.last,
                    q.pv_dividend,
                    g.gamma,
                    g.vega,
                    g.theta,
                    q.under,
                )
            )
            out.append(m.tick_size(rid, tt(m.VOLUME), q.volume))
            out.append(m.tick_price(rid, tt(m.CLOSE), q.last, 0))
            call = c.right == "C"
            if "100" in line.generic:
                out.append(m.tick_size(rid, m.CALL_VOLUME if call else m.PUT_VOLUME, q.volume))
            if "101" in line.generic:
                out.append(m.tick_size(rid, m.CALL_OI if call else m.PUT_OI, q.open_interest))
            if "106" in line.generic:
                out.append(m.tick_generic(rid, m.IMPLIED_VOL, round(q.iv, 6)))
    else:
        q = market.stock_quote(c.symbol)
        bid, ask = (NO_PRICE, NO_PRICE) if closed else (q.bid, q.ask)
        bid_size, ask_size = (0, 0) if closed else (q.bid_size, q.ask_size)
        key = (bid, ask, q.last)
        if not full and key == line.last:
            return []
        line.last = key
        out.append(m.tick_price(rid, tt(m.BID), bid, bid_size))
        out.append(m.tick_price(rid, tt(m.ASK), ask, ask_size))
        out.append(m.tick_price(rid, tt(m.LAST), q.last, q.last_size))
        out.append(m.tick_size(rid, tt(m.VOLUME), q.volume))
        if full:
            out.append(m.tick_price(rid, tt(m.HIGH), q.high, 0))
            out.append(m.tick_price(rid, tt(m.LOW), q.low, 0))
            out.append(m.tick_price(rid, tt(m.CLOSE), q.close, 0))
            out.append(m.tick_price(rid, tt(m.OPEN), q.open, 0))
            out += stock_generic_ticks(market, line)
    return out


def stock_generic_ticks(market: Market, line: Line) -> list[bytes]:
    sym = line.contract.symbol
    info = market.by_symbol[sym]
    rid = line.req_id
    out = []
    g = line.generic
    if "100" in g or "101" in g:
        exps = market.expiries(sym)[:3]
        base = int(info.market_cap_m / 10)
        if "100" in g:
            out.append(m.tick_size(rid, m.CALL_VOLUME, base * 3 // 2))
            out.append(m.tick_size(rid, m.PUT_VOLUME, base))
        if "101" in g:
            out.append(m.tick_size(rid, m.CALL_OI, base * 12 * max(len(exps), 1)))
            out.append(m.tick_size(rid, m.PUT_OI, base * 10 * max(len(exps), 1)))
    if "104" in g:
        out.append(m.tick_generic(rid, m.HIST_VOL, round(info.volatility * 0.92, 6)))
    if "106" in g:
        out.append(m.tick_generic(rid, m.IMPLIED_VOL, round(market.atm_iv(sym), 6)))
    if "258" in g and line.fundamentals:
        out.append(m.tick_string(rid, m.FUNDAMENTAL_RATIOS, fundamental_ratios(market, sym)))
    if "456" in g:
        px = market.spot(sym)
        annual = round(px * info.dividend_yield_pct / 100, 4)
        nxt = market.now().date().toordinal() + 40
        nd = date.fromordinal(nxt).strftime("%Y%m%d") if annual else ""
        out.append(
            m.tick_string(
                rid,
                m.DIVIDENDS,
                f"{annual},{annual},{nd},{round(annual / 4, 4) if annual else ''}",
            )
        )
    return out


def fundamental_ratios(market, symbol: str) -> str:
    """IB tick 258 payload (key=value;...) with the tags ib_insync and the bridge read."""
    i = market.by_symbol[symbol]
    px = market.spot(symbol)
    shares = i.market_cap_m / i.price if i.price else 0
    mktcap = px * shares
    pe = 12 + 8 * i.beta if i.roe_pct > 0 and i.fcf_per_share > 0 else -1.0
    eps = px / pe
    vals = {
        "NPRICE": round(px, 2),
        "MKTCAP": round(mktcap, 1),
        "BETA": i.beta,
        "TTMROEPCT": i.roe_pct,
        "TTMFCF": i.fcf_m,
        "TTMFCFSHR": i.fcf_per_share,
        "YIELD": i.dividend_yield_pct,
        "TTMEPSXCLX": round(eps, 2),
        "PEEXCLXOR": round(px / eps, 2) if eps > 0 else -99999.99,
        "TTMREV": round(mktcap / 3, 1),
        "QTOTD2EQ": 85.0,
        "NHIG": round(i.price * 1.25, 2),
        "NLOW": round(i.price * 0.75, 2),
        "TTMDIVSHR": round(px * i.dividend_yield_pct / 100, 4),
        "AvgVolume": int(mktcap * 40 / max(px, 1) / 1000),
    }
    return ";".join(f"{k}={v}" for k, v in vals.items()) + ";"
