"""The fault-injection and inspection HTTP API (JSON), a tiny HTTP/1.1 server on asyncio.

Hand-written so the control port shares the simulator's event loop and state directly.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from tws_sim import messages as m
from tws_sim.engine import Engine

log = logging.getLogger("tws_sim.control")


class BadRequest(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _num(body: dict, key: str, default: float | None = None) -> float:
    v = body.get(key, default)
    if v is None or isinstance(v, bool) or not isinstance(v, int | float):
        raise BadRequest(key, f"{key} must be a number")
    return float(v)


def _between(body: dict, key: str, low: float, high: float, default: float | None = None) -> float:
    v = _num(body, key, default)
    if v < low or v > high:
        raise BadRequest(key, f"{key} must be between {low:g} and {high:g}")
    return v


def _flag(body: dict, key: str) -> bool:
    v = body.get(key)
    if not isinstance(v, bool):
        raise BadRequest(key, f"{key} must be true or false")
    return v


def _choice(body: dict, key: str, options: tuple[str, ...]) -> str:
    v = body.get(key)
    if v not in options:
        raise BadRequest(key, f"{key} must be one of {', '.join(options)}")
    return v


class ControlServer:
    def __init__(self, engine: Engine, listener) -> None:
        self.engine = engine
        self.listener = listener
        self.server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        cfg = self.engine.config
        self.server = await asyncio.start_server(
            self._handle, cfg.host, cfg.control_port, reuse_address=True
        )

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 10)
            parts = line.decode("latin-1").split()
            if len(parts) < 2:
                return
            method, path = parts[0].upper(), parts[1].split("?")[0]
            length = 0
            while True:
                h = await asyncio.wait_for(reader.readline(), 10)
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v.strip() or 0)
            raw = await reader.readexactly(length) if length else b""
            status, payload = self.route(method, path, raw)
        except BadRequest as exc:
            status, payload = (
                400,
                {"code": "bad_request", "message": exc.message, "field": exc.field},
            )
        except Exception as exc:
            log.exception("control request failed")
            status, payload = 500, {"code": "internal", "message": type(exc).__name__}
        body = json.dumps(payload).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
        head = (
            f"HTTP/1.1 {status} {reason.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        try:
            writer.write(head + body)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def route(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        try:
            body = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise BadRequest("body", "body must be JSON") from exc
        if not isinstance(body, dict):
            raise BadRequest("body", "body must be a JSON object")
        eng = self.engine
        if method == "GET":
            if path == "/healthz":
                return 200, {"status": "ok"}
            if path == "/state":
                return 200, eng.state()
            if path == "/state/orders":
                return 200, eng.orders_state()
            if path == "/state/requests":
                return 200, eng.counter.describe()
            if path == "/state/executions":
                return 200, [e.describe() for e in eng.executions]
            if path == "/market":
                return 200, self.market_state()
            return 404, {"code": "not_found", "message": path}
        if method != "POST":
            return 405, {"code": "method_not_allowed", "message": method}
        handler = {
            "/control/drop": self.drop,
            "/control/restart": self.restart,
            "/control/connectivity": self.connectivity,
            "/control/farm": self.farm,
            "/control/reject-next-order": self.reject_next,
            "/control/latency": self.latency,
            "/control/subscription": self.subscription,
            "/control/wsh": self.wsh,
            "/control/entitlements": self.entitlements,
            "/control/gateway": self.gateway,
            "/control/latency-model": self.latency_model,
            "/control/price": self.price,
            "/control/advance": self.advance,
            "/control/fill-mode": self.fill_mode,
            "/control/tick-rate": self.tick_rate,
            "/control/reset-counters": self.reset_counters,
        }.get(path)
        if handler is None:
            return 404, {"code": "not_found", "message": path}
        return 200, handler(body)

    def market_state(self) -> dict:
        mk = self.engine.market
        return {
            "rate": mk.rate,
            "sim_time": mk.now().isoformat(),
            "symbols": {
                s.symbol: {
                    "price": round(mk.spot(s.symbol), 4),
                    "volatility": s.volatility,
                    "dividend_yield": s.dividend_yield_pct / 100,
                    "con_id": s.contract.con_id,
                }
                for s in mk.stocks
            },
            "simulated": True,
        }

    def drop(self, body: dict) -> dict:
        return {"dropped": self.engine.drop_all()}

    def restart(self, body: dict) -> dict:
        down = _between(body, "down_seconds", 0, 3600, 5)
        task = asyncio.get_running_loop().create_task(self.engine.restart(self.listener, down))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return {"down_seconds": down}

    def connectivity(self, body: dict) -> dict:
        state = _choice(body, "state", ("lost", "restored"))
        eng = self.engine
        if state == "lost":
            eng.faults.connectivity_lost = True
            eng.broadcast(
                m.error(-1, 1100, "Connectivity between IB and Trader Workstation has been lost.")
            )
        else:
            eng.faults.connectivity_lost = False
            if body.get("data_lost"):
                eng.broadcast(
                    m.error(
                        -1,
                        1101,
                        "Connectivity between IB and Trader Workstation "
                        "has been restored - data lost.",
                    )
                )
            else:
                eng.broadcast(
                    m.error(
                        -1,
                        1102,
                        "Connectivity between IB and Trader Workstation "
                        "has been restored - data maintained.",
                    )
                )
                for s in eng.ready_sessions():
                    s.resend_all()
        return {"state": state}

    def farm(self, body: dict) -> dict:
        state = _choice(body, "state", ("down", "up"))
        eng = self.engine
        eng.market.farm_up = state == "up"
        if state == "down":
            eng.broadcast(m.error(-1, 2103, "Market data farm connection is broken:usfarm"))
        else:
            eng.broadcast(m.error(-1, 2104, "Market data farm connection is OK:usfarm"))
            for s in eng.ready_sessions():
                s.resend_all()
        return {"state": state}

    def reject_next(self, body: dict) -> dict:
        code = int(_num(body, "code", 201))
        message = body.get("message") or "Order rejected - reason: simulated rejection"
        if not isinstance(message, str):
            raise BadRequest("message", "message must be a string")
        self.engine.faults.reject_next = (code, message)
        return {"code": code, "message": message}

    def latency(self, body: dict) -> dict:
        ms = _between(body, "ms", 0, 60_000)
        self.engine.faults.latency_ms = ms
        return {"ms": ms}

    def latency_model(self, body: dict) -> dict:
        """`{"mode": "realistic"|"off"}`: IB-like per-request delays (see latency.py)."""
        from tws_sim.latency import MODES, LatencyModel

        mode = _choice(body, "mode", MODES)
        self.engine.latency = LatencyModel(self.engine.config.seed, mode)
        return self.engine.latency.describe()

    def subscription(self, body: dict) -> dict:
        live = _flag(body, "live")
        self.engine.faults.live_subscription = live
        return {"live": live}

    def wsh(self, body: dict) -> dict:
        """Wall Street Horizon subscription: off → WSH requests get IB's error 10276."""
        subscribed = _flag(body, "subscribed")
        self.engine.faults.wsh_subscribed = subscribed
        return {"subscribed": subscribed}

    def entitlements(self, body: dict) -> dict:
        """Switch market-data entitlements: any of live, fundamentals, greeks, wsh (booleans).

        New requests see the change (as after a subscription change at IB); the answer holds
        all four."""
        known = {
            "live": "live_subscription",
            "fundamentals": "fundamentals",
            "greeks": "greeks",
            "wsh": "wsh_subscribed",
        }
        for key in body:
            if key not in known:
                raise BadRequest(key, f"{key} is not an entitlement ({', '.join(known)})")
            _flag(body, key)
        for key, value in body.items():
            setattr(self.engine.faults, known[key], value)
        return self.engine.entitlements()

    def gateway(self, body: dict) -> dict:
        """`{"tick_258": false}`: a Gateway of TWS API 10.47 or later, which dropped fundamental
        ratios (generic tick 258): a reqMktData naming 258 gets 321 for the whole request. New
        requests see the change; `true` is an older Gateway again."""
        tick_258 = _flag(body, "tick_258")
        self.engine.faults.tick_258 = tick_258
        return {"tick_258": tick_258}

    def price(self, body: dict) -> dict:
        symbol = body.get("symbol")
        if not isinstance(symbol, str) or symbol.upper() not in self.engine.market.by_symbol:
            raise BadRequest("symbol", "symbol must be in the simulated universe")
        price = _num(body, "price")
        if price <= 0:
            raise BadRequest("price", "price must be positive")
        self.engine.market.set_price(symbol.upper(), price)
        self.engine.check_working()
        return {"symbol": symbol.upper(), "price": price}

    def advance(self, body: dict) -> dict:
        seconds = 0.0
        if "days" in body:
            seconds += _num(body, "days") * 86400
        if "seconds" in body:
            seconds += _num(body, "seconds")
        if "days" not in body and "seconds" not in body:
            raise BadRequest("days", "give days or seconds")
        if seconds < 0:
            raise BadRequest("days", "the clock only moves forward")
        eng = self.engine
        eng.market.clock.advance(seconds)
        settled = eng.settle_expired()
        eng.check_working()  # orders held over a close fill at the open they reached
        eng.publish_account()
        return {
            "sim_time": eng.market.now().isoformat(),
            "settled": [e.describe() for e in settled],
        }

    def fill_mode(self, body: dict) -> dict:
        mode = _choice(body, "mode", ("cross", "never", "immediate"))
        self.engine.faults.fill_mode = mode
        if mode != "never":
            self.engine.check_working()
        return {"mode": mode}

    def reset_counters(self, body: dict) -> dict:
        """Zero the request counts; the answer holds the counts up to now."""
        return self.engine.counter.reset()

    def tick_rate(self, body: dict) -> dict:
        ms = _between(body, "ms", 0, 60_000)
        self.engine.config.tick_ms = ms
        return {"ms": ms}
