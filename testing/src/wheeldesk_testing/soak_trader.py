"""The soak's trader: opens the next wheel leg per symbol through the web's own order pages.

A cash-secured put on each symbol that is flat, a covered call on each that holds shares,
whenever it has no open option and no working order; re-priced at the fresh what-if's bid when
the market moved while the page loaded (see `wheeldesk_testing.soak`).
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from wheeldesk.markettime import expiry_moment

from wheeldesk_testing.e2e import form_values, login, ready
from wheeldesk_testing.procs import TEST_TOKEN
from wheeldesk_testing.stack import Stack

HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}"}
WORKING_AT_SIM = {"PendingSubmit", "PreSubmitted", "Submitted"}


class Trader:
    """Opens the next wheel leg per symbol through the web's order pages."""

    def __init__(self, stack: Stack, symbols: tuple[str, ...], min_days: float) -> None:
        self.stack = stack
        self.symbols = symbols
        self.min_days = min_days
        self.client = login(stack)
        self.sent: list[str] = []
        self.counts: Counter = Counter()

    def close(self) -> None:
        self.client.close()

    def state(self) -> dict[str, Any]:
        return httpx.get(f"{self.stack.control_url}/state", timeout=30).json()

    def round(self) -> None:
        """One look at the account; a new leg for every idle symbol (none while IBKR is down:
        the web shows the banner and a trader waits)."""
        if not ready(self.stack.bridge_url):
            return
        state = self.state()
        now = datetime.fromisoformat(state["sim_time"])
        working = {o["symbol"] for o in state["orders"] if o["status"] in WORKING_AT_SIM}
        shares: dict[str, float] = defaultdict(float)
        options: set[str] = set()
        for p in state["positions"]:
            if p["sec_type"] == "STK":
                shares[p["symbol"]] += p["quantity"]
            elif p["quantity"]:
                options.add(p["symbol"])
        for symbol in self.symbols:
            if symbol in working or symbol in options:
                continue
            right = "C" if shares[symbol] >= 100 else "P"
            with contextlib.suppress(httpx.HTTPError):
                self.open(symbol, right, now)

    def pick(self, symbol: str, right: str, now: datetime) -> dict[str, Any] | None:
        """The nearest expiry at least `min_days` away (by tws-sim's clock) and the listed
        strike nearest the money on the seller's side (put at or under, call at or over)."""
        chain = httpx.get(
            f"{self.stack.bridge_url}/v1/chains/{symbol}",
            params={"right": right, "dte_min": 0, "dte_max": 60, "strikes": 4},
            headers=HEADERS,
            timeout=60,
        )
        if chain.status_code != 200:
            self.counts["chain errors"] += 1
            return None
        body = chain.json()
        spot = body["underlying"].get("price") or body["underlying"].get("last")
        if not spot:
            return None
        soonest = now + timedelta(days=self.min_days)
        by_expiry: dict[date, list[dict]] = defaultdict(list)
        for q in body["options"]:
            expiry = date.fromisoformat(q["contract"]["expiry"])
            if expiry_moment(expiry) >= soonest and (q.get("bid") or 0) >= 0.05:
                by_expiry[expiry].append(q)
        for expiry in sorted(by_expiry):
            quotes = by_expiry[expiry]
            if right == "P":
                side = [q for q in quotes if q["contract"]["strike"] <= spot]
                best = max(side, key=lambda q: q["contract"]["strike"], default=None)
            else:
                side = [q for q in quotes if q["contract"]["strike"] >= spot]
                best = min(side, key=lambda q: q["contract"]["strike"], default=None)
            if best is not None:
                return best
        return None

    def open(self, symbol: str, right: str, now: datetime) -> None:
        q = self.pick(symbol, right, now)
        if q is None:
            self.counts["no contract"] += 1
            return
        page = self.client.post(
            "/orders/new/",
            data={
                "csrfmiddlewaretoken": self.client.cookies["csrftoken"],
                "symbol": symbol,
                "expiry": q["contract"]["expiry"],
                "strike": q["contract"]["strike"],
                "right": right,
                "action": "SELL",
                "quantity": 1,
                "limit_price": f"{max(0.01, q['bid']):.2f}",
            },
            follow_redirects=True,
            timeout=120,
        )
        found = re.search(r'id="client-order-id">([^<]+)<', page.text)
        if page.status_code != 200 or found is None:
            self.counts["preview failed"] += 1
            return
        coid = found.group(1)
        form = {"csrfmiddlewaretoken": self.client.cookies["csrftoken"]}
        for attempt in range(3):
            if 'id="confirm-form"' not in page.text:
                self.sent.append(coid)  # it left the preview: sent to IBKR
                return
            if attempt:
                self.counts["re-priced"] += 1
            if 'id="blocked-note"' not in page.text:
                confirm = form_values(page.text, "confirm-form")
                self.client.post(f"/orders/{coid}/confirm/", data=confirm, timeout=120)
                page = self.client.get(f"/orders/{coid}/", timeout=120)
                if 'id="confirm-form"' not in page.text:
                    continue
                self.counts["confirm refused"] += 1
            # Simulated hours passed while the page loaded and the limit no longer fits the
            # market: take the bid of the fresh what-if and preview again, as a trader would.
            bid = re.search(r'data-set-limit="([0-9.]+)">Bid', page.text)
            if bid is None or float(bid.group(1)) < 0.01:
                break
            self.client.post(
                f"/orders/{coid}/update/",
                data={**form, "quantity": 1, "limit_price": bid.group(1)},
                timeout=120,
            )
            page = self.client.get(f"/orders/{coid}/", timeout=120)
        if 'id="confirm-form"' not in page.text:
            self.sent.append(coid)
        else:
            self.counts["blocked"] += 1  # a trader reads the checks and does not send it

    def cancel_working(self) -> None:
        """What is still working at the end is cancelled through the web, as a trader would."""
        state = self.state()
        ours = set(self.sent)
        for o in state["orders"]:
            if o["status"] in WORKING_AT_SIM and o["order_ref"] in ours:
                with contextlib.suppress(httpx.HTTPError):
                    self.client.post(
                        f"/orders/{o['order_ref']}/cancel/",
                        data={"csrfmiddlewaretoken": self.client.cookies["csrftoken"]},
                        timeout=60,
                    )
