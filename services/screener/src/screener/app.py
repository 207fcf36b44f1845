"""Screener HTTP app: thin routes over the plain functions in this package.

- `POST /v1/scans`: up to 200 symbols answer with the `ScanResult`; more start a job
  (202 + `ScanJob`) polled at `GET /v1/scans/{id}`, so no request is held for minutes.
  A scan that needs the bridge while it is down answers 503 with the reason.
- `POST /v1/price`: batch IV and greeks (IB's conventions on the wire: theta per calendar day,
  vega per volatility point, rho per rate point).
- Every finished scan is published on `signals.scan.<id>` (JetStream stream SIGNALS) when NATS
  is reachable; a scan never waits for or fails on NATS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator

import numpy as np
from fastapi import FastAPI, Response
from nats.aio.client import Client as NATS
from prometheus_client import Counter, Histogram
from wheeldesk import subjects
from wheeldesk.app import create_app
from wheeldesk.clients import BridgeClient
from wheeldesk.errors import ServiceError
from wheeldesk.natsconn import connect, ensure_streams, publish_event
from wheeldesk.schemas.screener import (
    PriceRequest,
    PriceResponse,
    PriceResult,
    ScanEvent,
    ScanJob,
    ScanRequest,
    ScanResult,
)
from wheeldesk.settings import load_settings

from screener import american, pricing
from screener.scan import BridgeUnavailable, run_scan, unavailable_error
from screener.settings import ScreenerSettings

log = logging.getLogger(__name__)

JOB_THRESHOLD = 200  # symbols; above this a scan runs as a job
MAX_JOBS = 100  # finished jobs kept in memory (oldest dropped)

SCANS = Counter("screener_scans_total", "Scans run", ["outcome"])
SCAN_SECONDS = Histogram("screener_scan_seconds", "Scan duration")
SIGNALS = Counter("screener_signals_total", "Signals produced", ["kind"])
PRICED = Counter("screener_priced_contracts_total", "Contracts priced by /v1/price")


class Runtime:
    """What the routes share: the bridge client, the NATS connection, the jobs."""

    def __init__(self, settings: ScreenerSettings) -> None:
        self.settings = settings
        self.bridge = BridgeClient(
            settings.bridge_url, settings.internal_api_token.get_secret_value(), timeout=120.0
        )
        self.nc: NATS | None = None
        self.jobs: OrderedDict[str, ScanJob] = OrderedDict()
        self.tasks: set[asyncio.Task] = set()

    async def start_nats(self) -> None:
        try:
            nc = await connect(self.settings.nats_url, name="screener")
            await ensure_streams(nc.jetstream(), [subjects.STREAM_SIGNALS])
            self.nc = nc
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a scan never depends on NATS
            log.warning("NATS unavailable, scans will not be published: %s", exc)

    async def publish(self, result: ScanResult) -> None:
        if self.nc is None or not self.nc.is_connected:
            log.warning("scan %s not published: NATS not connected", result.scan_id)
            return
        try:
            await publish_event(
                self.nc.jetstream(), subjects.signals(result.scan_id), ScanEvent(result=result)
            )
        except Exception as exc:
            log.warning("scan %s not published: %s", result.scan_id, exc)

    async def scan(
        self, request: ScanRequest, scan_id: str, job: ScanJob | None = None
    ) -> ScanResult:
        t0 = time.perf_counter()

        def progress(done: int, symbol: str) -> None:
            if job is not None:
                job.symbols_done = done
                job.last_symbol = symbol

        try:
            result = await run_scan(
                request,
                bridge=self.bridge,
                rate=self.settings.risk_free_rate,
                concurrency=self.settings.screener_bridge_concurrency,
                scan_id=scan_id,
                progress=progress,
            )
        except BridgeUnavailable:
            SCANS.labels("bridge_down").inc()
            raise
        SCANS.labels("ok").inc()
        SCAN_SECONDS.observe(time.perf_counter() - t0)
        for s in result.signals:
            SIGNALS.labels(s.kind).inc()
        await self.publish(result)
        return result

    async def run_job(self, request: ScanRequest, job: ScanJob) -> None:
        try:
            job.result = await self.scan(request, job.scan_id, job)
            job.status = "done"
            job.symbols_done = job.symbols_total
        except BridgeUnavailable as exc:
            job.status, job.error = "failed", str(exc)
        except Exception as exc:
            log.exception("scan job %s failed", job.scan_id)
            job.status, job.error = "failed", f"internal error: {type(exc).__name__}"

    def add_job(self, job: ScanJob) -> None:
        self.jobs[job.scan_id] = job
        while len(self.jobs) > MAX_JOBS:
            oldest = next(iter(self.jobs))
            if self.jobs[oldest].status == "running":
                break
            self.jobs.pop(oldest)


def price_batch(request: PriceRequest) -> PriceResponse:
    """Vectorised over the batch: solve IV where a price is given, else use the given IV."""
    items = request.items
    is_call = np.array([i.right == "C" for i in items])
    spot = np.array([i.spot for i in items])
    strike = np.array([i.strike for i in items])
    t = np.array([i.dte for i in items]) / 365.0
    r = np.array([i.rate for i in items])
    q = np.array([i.dividend_yield for i in items]) / 100.0  # percent, like Fundamentals
    given_iv = np.array([np.nan if i.iv is None else i.iv for i in items])
    opt_price = np.array([np.nan if i.price is None else i.price for i in items])
    solved, flag = pricing.implied_vol(opt_price, is_call, spot, strike, t, r, q)
    am = np.array([i.american for i in items], dtype=bool)
    if am.any():  # American: IV, price and delta from Bjerksund–Stensland 2002
        am_iv, am_flag = american.implied_vol(
            opt_price[am], is_call[am], spot[am], strike[am], t[am], r[am], q[am]
        )
        solved[am], flag[am] = am_iv, am_flag
    has_price = ~np.isnan(opt_price)
    iv = np.where(has_price, solved, given_iv)
    g = pricing.greeks(is_call, spot, strike, t, r, q, iv)
    if am.any():
        args = (is_call[am], spot[am], strike[am], t[am], r[am], q[am], iv[am])
        g.price[am] = american.price(*args)
        g.delta[am] = american.delta(*args)
    pop = pricing.prob_otm(is_call, spot, strike, t, r, q, iv) * 100.0
    names = pricing.flag_names(flag)

    def num(a: np.ndarray, k: int, scale: float = 1.0) -> float | None:
        v = float(a[k])
        return v * scale if np.isfinite(v) else None

    results = []
    for k, item in enumerate(items):
        iv_flag = names[k] if has_price[k] else None
        if not has_price[k] and item.iv is None:
            iv_flag = "no_price_or_iv"
        results.append(
            PriceResult(
                iv=num(iv, k),
                iv_flag=iv_flag,
                price=num(g.price, k),
                delta=num(g.delta, k),
                gamma=num(g.gamma, k),
                theta=num(g.theta, k, 1 / 365.0),
                vega=num(g.vega, k, 0.01),
                rho=num(g.rho, k, 0.01),
                pop=num(pop, k),
            )
        )
    PRICED.inc(len(items))
    return PriceResponse(results=results)


def build_app(settings: ScreenerSettings | None = None) -> FastAPI:
    settings = settings or load_settings(ScreenerSettings)
    rt = Runtime(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        nats_task = asyncio.create_task(rt.start_nats())
        try:
            yield
        finally:
            nats_task.cancel()
            for task in list(rt.tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                if rt.nc is not None:
                    await rt.nc.close()
            await rt.bridge.aclose()

    app = create_app("screener", settings, description="Wheel signal engine", lifespan=lifespan)
    app.state.runtime = rt

    @app.post(
        "/v1/scans",
        response_model=ScanResult | ScanJob,
        tags=["scans"],
        responses={202: {"model": ScanJob}, 503: {"description": "gateway-bridge down"}},
    )
    async def create_scan(
        body: ScanRequest, response: Response, job: bool = False
    ) -> ScanResult | ScanJob:
        """`?job=true` runs even a small scan as a job, so its caller can show per-symbol
        progress (`symbols_done`, `last_symbol`) while it runs."""
        scan_id = uuid.uuid4().hex
        if job or len(body.symbols) > JOB_THRESHOLD:
            started = ScanJob(scan_id=scan_id, status="running", symbols_total=len(body.symbols))
            rt.add_job(started)
            task = asyncio.create_task(rt.run_job(body, started))
            rt.tasks.add(task)
            task.add_done_callback(rt.tasks.discard)
            response.status_code = 202
            response.headers["Location"] = f"/v1/scans/{scan_id}"
            return started
        try:
            return await rt.scan(body, scan_id)
        except BridgeUnavailable as exc:
            raise unavailable_error(exc) from exc

    @app.get("/v1/scans/{scan_id}", response_model=ScanJob, tags=["scans"])
    async def get_scan(scan_id: str) -> ScanJob:
        job = rt.jobs.get(scan_id)
        if job is None:
            raise ServiceError(404, "not_found", f"no scan job {scan_id}", field="scan_id")
        return job

    @app.post("/v1/price", response_model=PriceResponse, tags=["pricing"])
    async def price(body: PriceRequest) -> PriceResponse:
        return price_batch(body)

    return app
