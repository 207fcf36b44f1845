"""What clients cost IB: every API request received, counted by its TWS API message name.

A benchmark or test reads `GET /state/requests` before and after a workload (or resets the
counts with `POST /control/reset-counters`) to know how many IB requests a Wheeldesk feature
spends — the figure that decides whether it fits IB's pacing (50 messages/s) and line limits.
Requests refused by pacing (error 100) are counted too, as IB counts them against the limit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

# TWS API outgoing message ids (ib_insync client.py) → the EClient method that sends them.
REQUEST_NAMES: dict[int, str] = {
    1: "reqMktData",
    2: "cancelMktData",
    3: "placeOrder",
    4: "cancelOrder",
    5: "reqOpenOrders",
    6: "reqAccountUpdates",
    7: "reqExecutions",
    8: "reqIds",
    9: "reqContractDetails",
    10: "reqMktDepth",
    11: "cancelMktDepth",
    12: "reqNewsBulletins",
    13: "cancelNewsBulletins",
    15: "reqAutoOpenOrders",
    16: "reqAllOpenOrders",
    17: "reqManagedAccts",
    20: "reqHistoricalData",
    21: "exerciseOptions",
    22: "reqScannerSubscription",
    23: "cancelScannerSubscription",
    24: "reqScannerParameters",
    25: "cancelHistoricalData",
    49: "reqCurrentTime",
    52: "reqFundamentalData",
    58: "reqGlobalCancel",
    59: "reqMarketDataType",
    61: "reqPositions",
    62: "reqAccountSummary",
    63: "cancelAccountSummary",
    64: "cancelPositions",
    71: "startApi",
    74: "reqPositionsMulti",
    75: "cancelPositionsMulti",
    76: "reqAccountUpdatesMulti",
    77: "cancelAccountUpdatesMulti",
    78: "reqSecDefOptParams",
    87: "reqHeadTimeStamp",
    90: "cancelHeadTimeStamp",
    92: "reqPnL",
    93: "cancelPnL",
    94: "reqPnLSingle",
    95: "cancelPnLSingle",
    99: "reqCompletedOrders",
    100: "reqWshMetaData",
    101: "cancelWshMetaData",
    102: "reqWshEventData",
    103: "cancelWshEventData",
}


def request_name(fields: list[str]) -> str:
    """The method name of a decoded request; unknown or unreadable ids keep their number."""
    try:
        msg_id = int(fields[0])
    except (IndexError, ValueError):
        return "malformed"
    return REQUEST_NAMES.get(msg_id, f"msg{msg_id}")


@dataclass
class RequestCounter:
    """Counts for all connections together (Wheeldesk's bridge is IB's single client)."""

    by_name: Counter[str] = field(default_factory=Counter)
    snapshots: int = 0
    streams: int = 0
    generic_ticks: Counter[str] = field(default_factory=Counter)
    refused: Counter[int] = field(default_factory=Counter)  # reqMktData answered by an error
    pacing_rejected: int = 0
    stream_updates: int = 0
    stream_ticks: int = 0
    stream_skipped: int = 0
    since: datetime = field(default_factory=lambda: datetime.now(UTC))

    def request(self, fields: list[str]) -> None:
        self.by_name[request_name(fields)] += 1

    def market_data(self, snapshot: bool, generic: set[str]) -> None:
        """An accepted reqMktData: a snapshot or a streaming line, and the generic ticks asked."""
        if snapshot:
            self.snapshots += 1
        else:
            self.streams += 1
        self.generic_ticks.update(generic)

    def refused_market_data(self, code: int) -> None:
        """A reqMktData answered with error `code` instead of a line or a snapshot."""
        self.refused[code] += 1

    def streamed(self, ticks: int = 0, skipped: int = 0) -> None:
        """The other direction, for benchmarks: one streaming line's step, sent or skipped
        because its client is congested (the simulator drops updates rather than queue)."""
        if ticks:
            self.stream_updates += 1
            self.stream_ticks += ticks
        self.stream_skipped += skipped

    def describe(self) -> dict:
        return {
            "total": sum(self.by_name.values()),
            "requests": dict(sorted(self.by_name.items())),
            "market_data": {
                "snapshots": self.snapshots,
                "streams": self.streams,
                "generic_ticks": dict(sorted(self.generic_ticks.items())),
            },
            "market_data_refused": {str(code): n for code, n in sorted(self.refused.items())},
            "pacing_rejected": self.pacing_rejected,
            "streamed": {
                "updates": self.stream_updates,
                "ticks": self.stream_ticks,
                "skipped_congested": self.stream_skipped,
            },
            "since": self.since.isoformat(),
        }

    def reset(self) -> dict:
        """Zero every count; returns the counts as they were."""
        before = self.describe()
        self.by_name.clear()
        self.generic_ticks.clear()
        self.refused.clear()
        self.snapshots = self.streams = self.pacing_rejected = 0
        self.stream_updates = self.stream_ticks = self.stream_skipped = 0
        self.since = datetime.now(UTC)
        return before
