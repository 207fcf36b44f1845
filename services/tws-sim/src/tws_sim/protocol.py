"""TWS API framing: 4-byte big-endian length prefix, NUL-terminated ASCII fields."""

from __future__ import annotations

import struct

MAX_MESSAGE = 1 << 20  # a client message larger than this is a broken client: close it
SERVER_VERSION = 176
MIN_CLIENT_VERSION = 100


class ProtocolError(Exception):
    """The peer broke the framing; the only safe answer is closing the connection."""


def fmt(value: object) -> str:
    if value is None:
        return ""
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return ""
        r = float.__repr__(float(value))
        return r[:-2] if r.endswith(".0") else r
    return str(value)


def encode(*fields: object) -> bytes:
    body = "".join(fmt(f) + "\0" for f in fields).encode()
    return struct.pack(">I", len(body)) + body


def decode_fields(body: bytes) -> list[str]:
    text = body.decode("utf-8", errors="replace")
    fields = text.split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


def parse_handshake(payload: bytes) -> tuple[int, int] | None:
    """`v157..176[ options]` → (min, max) client versions, or None when unparseable."""
    try:
        text = payload.decode("ascii").strip()
        if not text.startswith("v"):
            return None
        spec = text[1:].split(" ", 1)[0]
        lo, _, hi = spec.partition("..")
        lo_v = int(lo)
        hi_v = int(hi) if hi else lo_v
        return lo_v, hi_v
    except (UnicodeDecodeError, ValueError):
        return None
