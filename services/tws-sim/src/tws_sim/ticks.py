"""Market-data ticks for one line: what a stock or option subscription sends, per data type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from tws_sim import messages as m
from tws_sim.contracts import SimContract
from tws_sim.market import Market, OptionQuote, StockQuote


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
    frozen = line.data_type in (2, 4)
    closed = not frozen and not market.is_open()
    if line.contract.is_option:
        return option_ticks(market, line, full, closed)
    return stock_ticks(market, line, full, closed)


def _tick_type(line: Line) -> Callable[[int], int]:
    """A tick type as the line's data type sends it: delayed lines use IB's delayed ids."""
    if line.data_type in (3, 4):
        return lambda t: m.DELAYED.get(t, t)
    return lambda t: t


def _bid_ask(
    line: Line, q: StockQuote | OptionQuote, closed: bool, full: bool, also: float
) -> tuple[float, float, list[bytes]] | None:
    """The bid and ask shown (IB's no-price while the market is closed) and their ticks; None
    when neither they nor `also` (a stock's last, an option's underlying) moved since the last
    send and this one is not `full`: a line only sends what changed."""
    tt, rid = _tick_type(line), line.req_id
    bid, ask = (NO_PRICE, NO_PRICE) if closed else (q.bid, q.ask)
    bid_size, ask_size = (0, 0) if closed else (q.bid_size, q.ask_size)
    key = (bid, ask, also)
    if not full and key == line.last:
        return None
    line.last = key
    ticks = [
        m.tick_price(rid, tt(m.BID), bid, bid_size),
        m.tick_price(rid, tt(m.ASK), ask, ask_size),
    ]
    return bid, ask, ticks


def stock_ticks(market: Market, line: Line, full: bool, closed: bool) -> list[bytes]:
    """A stock line: bid, ask, last and volume when they moved; the day's bar and the generic
    ticks too when `full`."""
    tt, rid = _tick_type(line), line.req_id
    q = market.stock_quote(line.contract.symbol)
    touch = _bid_ask(line, q, closed, full, q.last)
    if touch is None:
        return []
    out = touch[2] + [
        m.tick_price(rid, tt(m.LAST), q.last, q.last_size),
        m.tick_size(rid, tt(m.VOLUME), q.volume),
    ]
    if full:
        out.append(m.tick_price(rid, tt(m.HIGH), q.high, 0))
        out.append(m.tick_price(rid, tt(m.LOW), q.low, 0))
        out.append(m.tick_price(rid, tt(m.CLOSE), q.close, 0))
        out.append(m.tick_price(rid, tt(m.OPEN), q.open, 0))
        out += stock_generic_ticks(market, line)
    return out


def option_ticks(market: Market, line: Line, full: bool, closed: bool) -> list[bytes]:
    """An option line: bid and ask when they (or the underlying) moved, with IB's option
    computations when greeks are entitled; last, volume, close and the generic ticks when
    `full`."""
    tt, rid = _tick_type(line), line.req_id
    frozen = line.data_type in (2, 4)
    q = market.option_quote(line.contract, at=market.last_close() if frozen else None)
    touch = _bid_ask(line, q, closed, full, round(q.under, 2))
    if touch is None:
        return []
    bid, ask, out = touch
    if not line.greeks:  # no model computations without the entitlement
        if full:
            out.append(m.tick_price(rid, tt(m.LAST), q.last, 1))
            out.append(m.tick_size(rid, tt(m.VOLUME), q.volume))
            out.append(m.tick_price(rid, tt(m.CLOSE), q.last, 0))
            # Option volume and open interest are exchange data, not model greeks: IB
            # still sends them without the greeks entitlement.
            out += _option_volume_ticks(line, q)
        return out
    out += _option_computations(line, q, bid, ask, closed)
    if full:
        ot = _option_tick_type(line)
        out.append(m.tick_price(rid, tt(m.LAST), q.last, 1))
        out.append(_option_computation(rid, ot(m.LAST_OPTION), q, q.iv, q.last))
        out.append(m.tick_size(rid, tt(m.VOLUME), q.volume))
        out.append(m.tick_price(rid, tt(m.CLOSE), q.last, 0))
        out += _option_volume_ticks(line, q)
        if "106" in line.generic:
            out.append(m.tick_generic(rid, m.IMPLIED_VOL, round(q.iv, 6)))
    return out


def _option_tick_type(line: Line) -> Callable[[int], int]:
    """An option-computation tick type as the line's data type sends it."""
    if line.data_type in (3, 4):
        return lambda t: m.DELAYED_OPTION[t]
    return lambda t: t


def _option_computation(rid: int, tick: int, q: OptionQuote, iv: float, price: float) -> bytes:
    """One option-computation tick: the model's greeks at `iv` for `price`."""
    g = q.model
    return m.tick_option(
        rid, tick, iv, g.delta, price, q.pv_dividend, g.gamma, g.vega, g.theta, q.under
    )


def _option_computations(
    line: Line, q: OptionQuote, bid: float, ask: float, closed: bool
) -> list[bytes]:
    """The bid's and ask's implied volatility (none while closed: no bid/ask) and the model's."""
    ot, g = _option_tick_type(line), q.model
    vega_iv = g.vega * 100 if g.vega > 1e-9 else None
    out = []
    for tick, price in ((m.BID_OPTION, bid), (m.ASK_OPTION, ask)):
        if closed:  # no bid/ask, so no implied volatility from them
            continue
        iv = q.iv + (price - g.price) / vega_iv if vega_iv else q.iv
        out.append(_option_computation(line.req_id, ot(tick), q, max(iv, 0.01), price))
    out.append(_option_computation(line.req_id, ot(m.MODEL_OPTION), q, q.iv, g.price))
    return out


def _option_volume_ticks(line: Line, q: OptionQuote) -> list[bytes]:
    """Generic ticks 100 (volume) and 101 (open interest) of an option line."""
    call = line.contract.right == "C"
    out = []
    if "100" in line.generic:
        out.append(m.tick_size(line.req_id, m.CALL_VOLUME if call else m.PUT_VOLUME, q.volume))
    if "101" in line.generic:
        out.append(m.tick_size(line.req_id, m.CALL_OI if call else m.PUT_OI, q.open_interest))
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
