"""NATS subject names and JetStream stream definitions: the one place they are spelled."""

from __future__ import annotations

QUOTE_PREFIX = "ibkr.quote"
ACCOUNT = "ibkr.account"
POSITION = "ibkr.position"
ORDER_PREFIX = "ibkr.order"
EXECUTION_PREFIX = "ibkr.execution"
CONNECTION = "ibkr.connection"
SIGNALS_PREFIX = "signals.scan"
EMAIL_PREFIX = "email.send"
EMAIL_DEAD_LETTER = "email.dead"

STREAM_IBKR = "IBKR"
STREAM_IBKR_SUBJECTS = [ACCOUNT, POSITION, f"{ORDER_PREFIX}.>", f"{EXECUTION_PREFIX}.>", CONNECTION]
STREAM_EMAIL = "EMAIL"
STREAM_EMAIL_SUBJECTS = [f"{EMAIL_PREFIX}.>"]
STREAM_EMAIL_DLQ = "EMAIL_DLQ"
STREAM_EMAIL_DLQ_SUBJECTS = [EMAIL_DEAD_LETTER]
KV_EMAIL_STATUS = "EMAIL_STATUS"  # notifier: one status record per email id
# gateway-bridge: the symbols it streams (the web sets them over HTTP), so a restart restores them
KV_STREAMING = "STREAMING"
STREAM_SIGNALS = "SIGNALS"
STREAM_SIGNALS_SUBJECTS = [f"{SIGNALS_PREFIX}.>"]


def streaming_key(ib_client_id: int) -> str:
    """The `KV_STREAMING` key of the bridge logged in to IB as `ib_client_id`: one set per IB
    client (two bridges on one bus, as in the test suite, never restore each other's)."""
    return f"symbols.{ib_client_id}"


def quote(symbol: str) -> str:
    return f"{QUOTE_PREFIX}.{symbol.upper()}"


def order(order_id: int | str) -> str:
    return f"{ORDER_PREFIX}.{order_id}"


def execution(exec_id: str) -> str:
    # Exec ids contain dots ("0000e0d5.6568a1b2.01.01"); NATS tokens may not.
    return f"{EXECUTION_PREFIX}.{exec_id.replace('.', '_')}"


def signals(scan_id: str) -> str:
    return f"{SIGNALS_PREFIX}.{scan_id}"


def email(email_id: str) -> str:
    return f"{EMAIL_PREFIX}.{email_id}"
