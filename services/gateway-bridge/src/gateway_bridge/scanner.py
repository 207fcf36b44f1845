"""IB's market scanners: discovery for one subscription per idea instead of a chain per symbol.

`parameters()` asks IB once per trading day for its scanner parameters XML and keeps what a
form needs (instruments, locations, scan codes, filters). `run()` checks a request against
those parameters (a typo is a 422 naming the field, never a wasted IB request), holds one of
IB's 10 scanner slots while the subscription is open, waits for IB's rows, always cancels
the subscription (a leaked one would keep its slot until the connection drops), and adds
name, sector, price, market cap and earnings per row from the bridge's cached stock info.
"""

from __future__ import annotations

import asyncio
import logging
import xml.etree.ElementTree as ET
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from ib_insync import ScanDataList, ScannerSubscription, TagValue
from wheeldesk.errors import ServiceError
from wheeldesk.schemas.scanner import (
    MAX_SUBSCRIPTIONS,
    MarketScanRequest,
    MarketScanResult,
    MarketScanRow,
    ScanCode,
    ScanFilter,
    ScanLocation,
    ScannerParameters,
)

from gateway_bridge import metrics
from gateway_bridge.marketdata import MarketData

log = logging.getLogger(__name__)

DETAILS_CONCURRENCY = 8
TOO_MANY = 322  # "Only 10 simultaneous API scanner subscriptions are allowed."


def _split(text: str | None) -> list[str]:
    return [x.strip() for x in (text or "").split(",") if x.strip()]


def parse_parameters(xml: str, trading_day: date) -> ScannerParameters:
    """IB's ScanParameterResponse XML → the compact lists a form offers."""
    try:
        root = ET.fromstring(xml)  # IB Gateway's own answer on our connection
    except ET.ParseError as exc:
        raise ServiceError(
            502, "ib_error", f"IBKR sent unreadable scanner parameters: {exc}"
        ) from None
    instruments = [t for i in root.iter("Instrument") if (t := i.findtext("type"))]
    locations = [
        ScanLocation(
            code=code,
            name=loc.findtext("displayName") or code,
            instruments=_split(loc.findtext("instruments")),
        )
        for loc in root.iter("Location")
        if (code := loc.findtext("locationCode"))
    ]
    codes = [
        ScanCode(
            code=code,
            name=t.findtext("displayName") or code,
            instruments=_split(t.findtext("instruments")),
        )
        for t in root.iter("ScanType")
        if (code := t.findtext("scanCode"))
    ]
    filters: dict[str, ScanFilter] = {}
    for rf in root.iter("RangeFilter"):
        for af in rf.iter("AbstractField"):
            code = af.findtext("code")
            if code and code not in filters:
                filters[code] = ScanFilter(
                    code=code,
                    name=af.findtext("displayName") or code,
                    category=rf.findtext("category") or "",
                    group=rf.findtext("id") or "",
                )
    return ScannerParameters(
        instruments=list(dict.fromkeys(instruments)),
        locations=locations,
        scan_codes=codes,
        filters=list(filters.values()),
        trading_day=trading_day,
    )


def scanner_error(code: int, message: str) -> ServiceError:
    """IB's refusal in IB's words, with the field it concerns when the words say which."""
    lower = message.lower()
    if code == TOO_MANY:
        return ServiceError(
            429, "ib_scanner_limit", f"IBKR: {message}", headers={"Retry-After": "5"}
        )
    for word, field in (
        ("scan code", "scan_code"),
        ("filter", "filters"),
        ("location", "location"),
    ):
        if word in lower:
            return ServiceError(422, "ib_rejected", f"IBKR: {message}", field=field)
    if "instrument" in lower:
        return ServiceError(422, "ib_rejected", f"IBKR: {message}", field="instrument")
    return ServiceError(502, "ib_error", f"IBKR error {code}: {message}")


class Scanner:
    def __init__(self, md: MarketData) -> None:
        self.md = md
        self.slots = asyncio.Semaphore(MAX_SUBSCRIPTIONS)
        self._params: ScannerParameters | None = None
        self._params_lock = asyncio.Lock()

    @property
    def ib(self) -> Any:
        return self.md.session.ib

    async def parameters(self) -> ScannerParameters:
        """IB's scanner parameters, fetched once per IB trading day."""
        today = self.md.session.today()
        async with self._params_lock:
            if self._params is None or self._params.trading_day != today:
                xml = await self.md.call(self.ib.reqScannerParametersAsync)
                self._params = parse_parameters(xml, today)
            return self._params

    def check(self, req: MarketScanRequest, params: ScannerParameters) -> None:
        """Refuse what IB did not list, naming the field, before spending an IB request."""
        if req.instrument not in params.instruments:
            raise ServiceError(
                422, "invalid", f"instrument: IBKR lists no instrument {req.instrument!r}",
                field="instrument",
            )  # fmt: skip
        if req.location not in {loc.code for loc in params.locations}:
            raise ServiceError(
                422, "invalid", f"location: IBKR lists no location {req.location!r}",
                field="location",
            )  # fmt: skip
        if req.scan_code not in {c.code for c in params.scan_codes}:
            raise ServiceError(
                422, "invalid", f"scan_code: IBKR lists no scan code {req.scan_code!r}",
                field="scan_code",
            )  # fmt: skip
        known = {f.code for f in params.filters}
        for code in req.filters:
            if code not in known:
                raise ServiceError(
                    422, "invalid", f"filters: IBKR lists no filter {code!r}",
                    field=f"filters.{code}",
                )  # fmt: skip

    async def run(self, req: MarketScanRequest) -> MarketScanResult:
        params = await self.parameters()
        self.check(req, params)
        sub = ScannerSubscription(
            numberOfRows=req.rows,
            instrument=req.instrument,
            locationCode=req.location,
            scanCode=req.scan_code,
        )
        tags = [TagValue(k, f"{v:g}") for k, v in req.filters.items()]
        async with self.slots:
            rows = await self._subscribe(sub, tags)
        result = MarketScanResult(
            scan_code=req.scan_code,
            location=req.location,
            filters=req.filters,
            rows=[self._row(d) for d in rows[: req.rows]],
            as_of=self.md.session.now(),
            simulated=self.md.settings.ib_simulated,
        )
        if req.details:
            await self._add_details(result.rows)
        return result

    async def _subscribe(self, sub: ScannerSubscription, tags: list[TagValue]) -> list[Any]:
        """One subscription until IB's scannerDataEnd (or its error), cancelled in every case."""
        self.md.session.require_ready()
        await self.md.limiter.acquire()
        metrics.IB_REQUESTS.labels("request").inc()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[list[Any]] = loop.create_future()
        data: ScanDataList | None = None

        def on_update(dl: ScanDataList) -> None:
            if not done.done():
                done.set_result(list(dl))

        def on_error(req_id: int, code: int, message: str, contract: object = None) -> None:
            if data is not None and req_id == data.reqId and code != 165 and not done.done():
                done.set_exception(scanner_error(code, message))

        self.ib.errorEvent += on_error
        refused = False
        try:
            data = self.ib.reqScannerSubscription(sub, [], tags)
            data.updateEvent += on_update
            try:
                return await asyncio.wait_for(done, self.md.settings.ib_request_timeout)
            except TimeoutError:
                raise ServiceError(504, "ib_timeout", "IBKR did not answer in time") from None
            except ServiceError:
                refused = True  # IB never opened it: nothing to cancel
                raise
        finally:
            self.ib.errorEvent -= on_error
            if data is not None and not refused and self.ib.isConnected():
                await self.md.limiter.acquire()
                self.ib.cancelScannerSubscription(data)

    @staticmethod
    def _row(d: Any) -> MarketScanRow:
        cd = d.contractDetails
        c = cd.contract
        return MarketScanRow(
            rank=d.rank,
            symbol=c.symbol,
            conid=c.conId,
            sec_type=c.secType or "STK",
            exchange=c.exchange or "",
            currency=c.currency or "USD",
            market_name=cd.marketName or "",
            trading_class=c.tradingClass or "",
            distance=d.distance or "",
            benchmark=d.benchmark or "",
            projection=d.projection or "",
            legs=d.legsStr or "",
        )

    async def _add_details(self, rows: list[MarketScanRow]) -> None:
        """Name, sector, price, market cap, earnings: the bridge's stock info, which the wheel
        screen asks for next anyway (cached). A symbol IB cannot describe keeps its blanks."""
        gate = asyncio.Semaphore(DETAILS_CONCURRENCY)

        async def one(row: MarketScanRow) -> None:
            async with gate:
                try:
                    info = await self.md.stock(row.symbol)
                except (ServiceError, Exception) as exc:  # a row without details still ranks
                    log.info("scanner details for %s: %s", row.symbol, exc)
                    return
            row.name = info.name
            row.sector = info.sector
            row.price = info.quote.price
            row.market_cap = info.fundamentals.market_cap
            row.implied_volatility = info.implied_volatility
            row.next_earnings = info.fundamentals.next_earnings

        await asyncio.gather(*(one(r) for r in rows))


def scanner_of(request: Request) -> Scanner:
    """One Scanner per app (its slots and per-day parameters), made on first use."""
    state = request.app.state
    if getattr(state, "scanner", None) is None:
        state.scanner = Scanner(state.bridge.md)
    return state.scanner


def router() -> APIRouter:
    """`/scanner` routes, included under the bridge's `/v1` router."""
    r = APIRouter(prefix="/scanner", tags=["scanner"])

    @r.get("/parameters", response_model=ScannerParameters)
    async def parameters(request: Request) -> ScannerParameters:
        request.app.state.bridge.session.require_ready()
        return await scanner_of(request).parameters()

    @r.post("/run", response_model=MarketScanResult)
    async def run(request: Request, body: MarketScanRequest) -> MarketScanResult:
        request.app.state.bridge.session.require_ready()
        return await scanner_of(request).run(body)

    return r
