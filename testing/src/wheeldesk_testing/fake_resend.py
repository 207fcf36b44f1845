"""A small, real HTTP server that answers like Resend's `POST /emails`, for tests and benches.

Point the notifier at it with `RESEND_API_URL=fake.url`. It records every request
(with headers), honours `Idempotency-Key` the way Resend does (same key and body →
the same id and no second email; same key, other body → 409), and can be told to
answer 429 (with `retry-after`) or 500 for the next N requests, to be down, or to
be slow.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from wheeldesk_testing.procs import free_port


@dataclass
class FakeRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int
    ts: float = field(default_factory=time.time)

    @property
    def idempotency_key(self) -> str | None:
        return {k.lower(): v for k, v in self.headers.items()}.get("idempotency-key")


@dataclass
class FakeEmail:
    id: str
    body: dict[str, Any]
    headers: dict[str, str]
    ts: float = field(default_factory=time.time)

    @property
    def to(self) -> list[str]:
        to = self.body.get("to")
        return to if isinstance(to, list) else [to]

    @property
    def subject(self) -> str:
        return str(self.body.get("subject", ""))

    @property
    def html(self) -> str | None:
        return self.body.get("html")

    @property
    def text(self) -> str | None:
        return self.body.get("text")

    @property
    def idempotency_key(self) -> str | None:
        return {k.lower(): v for k, v in self.headers.items()}.get("idempotency-key")


class FakeResend:
    """Start with `FakeResend().start()`; `.url` is the value for RESEND_API_URL."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Condition()
        self.requests: list[FakeRequest] = []
        self.emails: list[FakeEmail] = []
        self._by_key: dict[str, tuple[str, str]] = {}  # key -> (email id, body fingerprint)
        self._faults: list[tuple[int, float | None]] = []
        self.down = False
        self.delay = 0.0
        self.received = 0  # POSTs whose body was read (counted before `delay`)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control -------------------------------------------------------------------------

    def fail_next(self, n: int, status: int = 500, retry_after: float | None = None) -> None:
        """Answer the next `n` POSTs with `status` (429 carries `retry-after` if given)."""
        with self.lock:
            self._faults.extend([(status, retry_after)] * n)

    def set_down(self, down: bool = True) -> None:
        """While down, every request gets a 503 (as during a Resend outage)."""
        with self.lock:
            self.down = down

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.emails.clear()
            self._by_key.clear()
            self._faults.clear()
            self.received = 0
            self.down = False
            self.delay = 0.0

    def wait_for(self, count: int, timeout: float = 30.0) -> list[FakeEmail]:
        """Block until at least `count` distinct emails were accepted; returns them."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.emails) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"fake Resend got {len(self.emails)} email(s), expected {count}"
                    )
                self.lock.wait(left)
            return list(self.emails)

    def wait_requests(self, count: int, timeout: float = 30.0) -> list[FakeRequest]:
        """Block until at least `count` POSTs arrived (accepted or not)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.posts()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"fake Resend got {len(self.posts())} POST(s), not {count}")
                self.lock.wait(left)
            return self.posts()

    def wait_received(self, count: int, timeout: float = 30.0) -> None:
        """Block until `count` POSTs have arrived, before any `delay` and answer."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.received < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"fake Resend received {self.received} POST(s), not {count}")
                self.lock.wait(left)

    def posts(self) -> list[FakeRequest]:
        return [r for r in self.requests if r.method == "POST"]

    def sent_to(self, address: str) -> list[FakeEmail]:
        with self.lock:
            return [e for e in self.emails if address in e.to]

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeResend:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                return

            def _answer(
                self, status: int, body: Any, headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client died waiting (a test killed it)

            def do_GET(self) -> None:
                email_id = self.path.rstrip("/").rsplit("/", 1)[-1]
                with fake.lock:
                    found = next((e for e in fake.emails if e.id == email_id), None)
                if found is None:
                    self._answer(404, _error(404, "not_found", "Email not found"))
                else:
                    self._answer(200, {"object": "email", "id": found.id, **found.body})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = dict(self.headers.items())
                with fake.lock:
                    fake.received += 1
                    fake.lock.notify_all()
                if fake.delay:
                    time.sleep(fake.delay)
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = None
                status, answer, extra = fake._handle(self.path, headers, body)
                with fake.lock:
                    fake.requests.append(FakeRequest("POST", self.path, headers, body, status))
                    fake.lock.notify_all()
                self._answer(status, answer, extra)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeResend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- Resend's behaviour ----------------------------------------------------------------

    def _handle(
        self, path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        lower = {k.lower(): v for k, v in headers.items()}
        with self.lock:
            if self.down:
                return 503, _error(503, "application_error", "Service unavailable"), {}
            if self._faults:
                status, retry_after = self._faults.pop(0)
                extra = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
                name = "rate_limit_exceeded" if status == 429 else "application_error"
                return status, _error(status, name, f"injected {status}"), extra
        if path.rstrip("/") != "/emails":
            return 404, _error(404, "not_found", f"no route {path}"), {}
        auth = lower.get("authorization", "")
        if not auth.startswith("Bearer ") or auth == "Bearer " or auth == "Bearer None":
            return 401, _error(401, "missing_api_key", "Missing API key"), {}
        if not isinstance(body, dict):
            return 422, _error(422, "validation_error", "Invalid JSON body"), {}
        for required in ("from", "to", "subject"):
            if not body.get(required):
                return 422, _error(422, "missing_required_field", f"`{required}` is missing"), {}
        if not (body.get("html") or body.get("text")):
            return 422, _error(422, "validation_error", "Provide `html` or `text`"), {}
        key = lower.get("idempotency-key")
        fingerprint = json.dumps(body, sort_keys=True)
        with self.lock:
            if key is not None and key in self._by_key:
                email_id, seen = self._by_key[key]
                if seen != fingerprint:
                    return (
                        409,
                        _error(
                            409,
                            "invalid_idempotent_request",
                            "Same idempotency key used with a different request payload",
                        ),
                        {},
                    )
                return 200, {"id": email_id}, {}
            email_id = str(uuid.uuid4())
            if key is not None:
                self._by_key[key] = (email_id, fingerprint)
            self.emails.append(FakeEmail(email_id, body, headers))
            self.lock.notify_all()
        return 200, {"id": email_id}, {}


def _error(status: int, name: str, message: str) -> dict[str, Any]:
    return {"statusCode": status, "name": name, "message": message}
