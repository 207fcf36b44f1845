"""The market-data and reference-data requests of one API connection: streaming and snapshot
lines, the market data type, daily history, contract details, option parameters, market rules.

A mixin of `Session` (session.py), which owns the connection's state and output; the ticks a
line sends are ticks.py's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from tws_sim import messages as m
from tws_sim import spreads
from tws_sim.lookup import details_extra, resolve
from tws_sim.protocol import encode
from tws_sim.requests import parse_contract, parse_duration_days
from tws_sim.ticks import Line, quote_ticks

if TYPE_CHECKING:
    from tws_sim.engine import Engine

# The generic ticks a Gateway of TWS API 10.47 or later lists as legal in its 321 for a tick list
# naming 258 (IB's own words; 258/47 "Fundamentals" is the one that version dropped).
LEGAL_GENERIC_TICKS_10_47 = (
    "100(Option Volume),101(Option Open Interest),105(Average Opt Volume),106(impvolat),"
    "107(climpvlt),125(Bond analytic data),165(Misc. Stats),166(CScreen),225(RTVolume),"
    "232(PlPrice),233(RTVolume),236(inventory),291(ivclose),292(Wide_news),293(TradeCount),"
    "294(TradeRate),295(VolumeRate),318(LastRTHTrade),370(ParticipationMonitor),"
    "375(RTTrdVolume),377(CttTickTag),381(IB Rate),384(RfqTickRespTag),387(DMM),"
    "388(Issuer Fundamentals),391(IBWarrantImpVolCompeteTick),407(FuturesMargins),"
    "411(rthistvol),428(MonetaryClose),439(MonitorTickTag),456/59(IBDividends),459(RTCLOSE),"
    "460(BondFactorMultiplier),499(FeeandRebateRate),506(midpoint),511(hvolRT),512(hvolRT),"
    "513(Halted),514(IBRatingsSubscriptions),515(EarningsCallConferenceReport),"
    "516(GeneralTickSerialize),517(RtCompletes),518(RtMarkups),519(IbCostRates),520(Iceberg)"
)


def unknown_tick_258(sec_type: str) -> str:
    """IB's 321 text for a tick list naming 258 on a Gateway that no longer knows it."""
    return (
        "Error validating request.-'bO' : cause - Incorrect generic tick list of 258.  "
        f"Legal ones for ({sec_type}) are: {LEGAL_GENERIC_TICKS_10_47}"
    )


class MarketDataHandlers:
    """reqMktData / cancelMktData, reqMarketDataType, the tick loop's `stream`,
    reqHistoricalData, reqHeadTimeStamp, reqContractDetails, reqSecDefOptParams,
    reqMarketRule."""

    # What the handlers use of the connection (`Session`'s fields and output).
    engine: Engine
    send: Callable[[bytes], None]
    error: Callable[[int, int, str], None]
    congested: Callable[[], bool]
    closed: bool
    data_type: int
    lines: dict[int, Line]
    pending_snapshots: int

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

    def req_mkt_data(self, f: list[str]) -> None:
        req_id = int(f[2])
        spec, i = parse_contract(f, 3)
        if spec.sec_type == "BAG":
            self.refuse(req_id, 321, "Error validating request: combos are not simulated")
            return
        if f[i] == "1":
            i += 3
        i += 1
        generic = {g.strip() for g in f[i].split(",") if g.strip()}
        snapshot = f[i + 1] == "1"
        found = resolve(self.engine.market, spec)
        if len(found) != 1:
            self.refuse(req_id, 200, "No security definition has been found for the request")
            return
        faults = self.engine.faults
        if snapshot and generic:
            self.refuse(
                req_id,
                321,
                "Error validating request.-'bW' : cause - Snapshot market "
                "data subscription is not applicable to generic ticks",
            )
            return
        if "258" in generic and not faults.tick_258:
            # The whole request is refused: no price, no other generic tick.
            self.refuse(req_id, 321, unknown_tick_258(found[0].sec_type))
            return
        if req_id in self.lines:
            self.refuse(
                req_id,
                322,
                f"Error processing request.-'bW' : cause - Duplicate ticker id = {req_id}",
            )
            return
        if self.engine.lines_in_use() >= self.engine.config.max_lines:
            self.refuse(req_id, 101, "Max number of tickers has been reached")
            return
        if not faults.live_subscription and self.data_type in (1, 2):
            self.refuse(
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

    def refuse(self, req_id: int, code: int, text: str) -> None:
        """IB's error for a reqMktData it did not take (counted: `GET /state/requests`)."""
        self.engine.counter.refused_market_data(code)
        self.error(req_id, code, text)

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
