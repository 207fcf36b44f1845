"""The screener's endpoints (`_Screener`) and its async and sync clients (a big scan is a job,
polled to its end)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from wheeldesk.clients.transport import (
    AsyncServiceClient,
    Call,
    ServiceCallError,
    SyncServiceClient,
)
from wheeldesk.schemas.screener import (
    PriceRequest,
    PriceResponse,
    ScanJob,
    ScanRequest,
    ScanResult,
)


def _scan_answer(body: Any) -> ScanResult | ScanJob:
    """`POST /v1/scans`: the result of a small scan, or (over 200 symbols) a job to poll."""
    if "signals" in body:
        return ScanResult.model_validate(body)
    return ScanJob.model_validate(body)


def _job_result(job: ScanJob) -> ScanResult:
    if job.result is None:
        unavailable = job.error is not None and job.error.startswith("gateway-bridge")
        raise ServiceCallError(
            "screener",
            503 if unavailable else 500,
            "bridge_unavailable" if unavailable else "scan_failed",
            job.error or "scan failed",
        )
    return job.result


class _Screener:
    """The screener's endpoints, each defined once for both screener clients."""

    @staticmethod
    def scan(request: ScanRequest, job: bool = False) -> Call[ScanResult | ScanJob]:
        params = {"job": "true"} if job else None
        return Call("POST", "/v1/scans", _scan_answer, body=request, params=params)

    @staticmethod
    def price(request: PriceRequest) -> Call[PriceResponse]:
        return Call("POST", "/v1/price", PriceResponse.model_validate, body=request)

    @staticmethod
    def scan_job(scan_id: str) -> Call[ScanJob]:
        return Call("GET", f"/v1/scans/{scan_id}", ScanJob.model_validate)


class ScreenerClient(AsyncServiceClient):
    service = "screener"

    async def scan(self, request: ScanRequest, *, poll_seconds: float = 1.0) -> ScanResult:
        """Run a scan; over 200 symbols the screener answers with a job, polled to its end."""
        job = await self._send(_Screener.scan(request))
        if isinstance(job, ScanResult):
            return job
        while job.status == "running":
            await asyncio.sleep(poll_seconds)
            job = await self.scan_job(job.scan_id)
        return _job_result(job)

    async def price(self, request: PriceRequest) -> PriceResponse:
        return await self._send(_Screener.price(request))

    async def scan_job(self, scan_id: str) -> ScanJob:
        """A scan of over 200 symbols runs as a job: poll it until `status != "running"`."""
        return await self._send(_Screener.scan_job(scan_id))


class SyncScreenerClient(SyncServiceClient):
    service = "screener"

    def scan(
        self,
        request: ScanRequest,
        *,
        poll_seconds: float = 1.0,
        on_progress: Callable[[ScanJob], None] | None = None,
    ) -> ScanResult:
        """Run a scan; over 200 symbols the screener answers with a job, polled to its end.

        With `on_progress`, the scan always runs as a job and each poll's ScanJob
        (`symbols_done`, `last_symbol`) is handed to it: a page can name symbols as they finish.
        """
        job = self._send(_Screener.scan(request, job=on_progress is not None))
        if isinstance(job, ScanResult):
            return job
        while job.status == "running":
            if on_progress is not None:
                on_progress(job)
            time.sleep(poll_seconds)
            job = self.scan_job(job.scan_id)
        return _job_result(job)

    def price(self, request: PriceRequest) -> PriceResponse:
        return self._send(_Screener.price(request))

    def scan_job(self, scan_id: str) -> ScanJob:
        """A scan of over 200 symbols runs as a job: poll it until `status != "running"`."""
        return self._send(_Screener.scan_job(scan_id))
