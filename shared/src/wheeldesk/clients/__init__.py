"""Typed HTTP clients for the bridge, screener and notifier APIs.

One owner for how services call each other: the bearer token, the request id,
timeouts, and turning an error answer into `ServiceCallError` with the
service's own `code` and message. Each client has a sync twin for Django views
and management commands.

Each endpoint is defined once, in its service's endpoint table (`_Bridge` in `bridge.py`,
`_Screener` in `screener.py`, `_Notifier` in `notifier.py`): method, path, query, body and the
model its answer is read into, as a `Call`. The async and the sync client only send that call
through their one transport (`transport.py`: `AsyncServiceClient._send`,
`SyncServiceClient._send`), so the two cannot drift apart; their methods stay written out, one
line each, so that signatures and return types are plain to read and to type-check.

Import the clients from here (`from wheeldesk.clients import SyncBridgeClient`).
"""

from wheeldesk.clients.bridge import BridgeClient, SyncBridgeClient
from wheeldesk.clients.notifier import NotifierClient, SyncNotifierClient
from wheeldesk.clients.screener import ScreenerClient, SyncScreenerClient
from wheeldesk.clients.transport import ServiceCallError

__all__ = [
    "BridgeClient",
    "NotifierClient",
    "ScreenerClient",
    "ServiceCallError",
    "SyncBridgeClient",
    "SyncNotifierClient",
    "SyncScreenerClient",
]
