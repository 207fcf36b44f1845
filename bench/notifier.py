"""notifier: emails accepted per second by the API and delivered per second to a fake Resend.

One nats-server (JetStream on disk), the notifier as a real process with the real
Resend SDK pointed at the in-process fake Resend (loopback), the rate limit lifted
(production keeps Resend's 2/s; this measures the notifier's own ceiling). The API
figure is N template-less POSTs from 16 concurrent clients, each rendered, recorded
in the status KV and published to JetStream before its 202; delivery is measured
from the first to the last email the fake recorded. A signal digest render (Jinja2,
three rows) is timed in-process.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
from wheeldesk_testing.fake_resend import FakeResend
from wheeldesk_testing.procs import TEST_TOKEN, nats_proc, nats_user_env, service_proc

N = 1000
CLIENTS = 16


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


async def _post_all(url: str) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(N):
        queue.put_nowait(i)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {TEST_TOKEN}"}, timeout=30
    ) as client:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                t0 = time.perf_counter()
                r = await client.post(
                    "/v1/emails",
                    json={
                        "to": [f"bench{i}@example.com"],
                        "subject": f"Bench {i}",
                        "text": "benchmark email",
                        "html": "<p>benchmark email</p>",
                        "idempotency_key": f"bench:{i}",
                    },
                )
                latencies.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        return time.perf_counter() - start, latencies


def _render_rate() -> float:
    from notifier.render import render
    from notifier.samples import SAMPLES

    render("signal_digest", SAMPLES["signal_digest"], web_url="http://x")  # warm the cache
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < 1.0:
        render("signal_digest", SAMPLES["signal_digest"], web_url="http://x")
        count += 1
    return count / (time.perf_counter() - start)


def run() -> list[dict]:
    nats = nats_proc().start()
    fake = FakeResend().start()
    notifier = service_proc(
        "notifier",
        {
            **nats_user_env(nats, "notifier"),
            "EMAIL_BACKEND": "resend",
            "RESEND_API_KEY": "re_bench",
            "RESEND_API_URL": fake.url,
            "EMAIL_RATE_LIMIT": "100000",
            "EMAIL_CONCURRENCY": "16",
            "LOG_LEVEL": "WARNING",
        },
    ).start(timeout=90)
    try:
        wall, latencies = asyncio.run(_post_all(notifier.url))
        emails = fake.wait_for(N, timeout=90)
    finally:
        notifier.stop()
        fake.stop()
        nats.stop()
    first, last = emails[0].ts, emails[-1].ts
    delivered = (len(emails) - 1) / (last - first) if last > first else float("nan")
    return [
        {"name": f"emails accepted by POST /v1/emails ({CLIENTS} clients)", "value": N / wall,
         "unit": "emails/s", "target": ">= 100/s"},
        {"name": "POST /v1/emails latency p50", "value": _pct(latencies, 50), "unit": "ms"},
        {"name": "POST /v1/emails latency p99", "value": _pct(latencies, 99), "unit": "ms"},
        {"name": "POST /v1/emails latency mean", "value": statistics.fmean(latencies),
         "unit": "ms"},
        {"name": "emails delivered to (fake) Resend, rate limit lifted", "value": delivered,
         "unit": "emails/s", "target": ">= 100/s (Resend itself allows 2/s by default)"},
        {"name": "duplicate emails at Resend", "value": len(emails) - len({e.subject for e in
         emails}), "unit": "emails", "target": "0"},
        {"name": "signal_digest renders (subject + HTML + text)", "value": _render_rate(),
         "unit": "renders/s"},
    ]  # fmt: skip


if __name__ == "__main__":
    for row in run():
        print(row)
