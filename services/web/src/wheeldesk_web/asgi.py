"""What uvicorn serves: the SSE stream on Django's ASGI handler, every other page through WSGI.

Django's ASGI handler runs a sync view on a thread it starts for that one request (a fresh
thread, so a fresh database connection, per page) and hops between the event loop and that
thread several times; under twenty browsers that overhead was most of the dashboard's time.
The pages are sync views, so they go to Django's WSGI handler on a pool of long-lived threads
(a2wsgi), whose database connections are kept between requests (`CONN_MAX_AGE`). Only the
long-lived `/live/` streams, async views holding no thread, stay on the ASGI handler; both
share one port, one process and the process's NATS hub.

In front of both, `BodyCap` counts every request body as it arrives and answers 413 once it
passes its cap (the Flex import's 20 MB, elsewhere Django's `DATA_UPLOAD_MAX_MEMORY_SIZE`):
Django itself would see an upload's size only after spooling it (bodycap.py says why).
"""

from __future__ import annotations

import os

from a2wsgi import WSGIMiddleware
from a2wsgi.asgi_typing import Receive, Scope, Send
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

from wheeldesk_web.bodycap import BodyCap, Limit
from wheeldesk_web.config import SETTINGS

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wheeldesk_web.settings")

# Served by the ASGI handler: async views that stream for as long as a browser stays.
ASYNC_PREFIXES = ("/live/",)

django_asgi = get_asgi_application()
django_wsgi = WSGIMiddleware(get_wsgi_application(), workers=SETTINGS.web_threads)


async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and not scope["path"].startswith(ASYNC_PREFIXES):
        await django_wsgi(scope, receive, send)
    else:
        await django_asgi(scope, receive, send)  # type: ignore[arg-type]


def _limits() -> tuple[dict[str, Limit], Limit]:
    from django.conf import settings
    from django.urls import reverse

    from wheeldesk_web.ledger.flex import MAX_BYTES

    form_room = 64 * 1024  # the import form's other fields and the multipart boundaries
    flex = Limit(MAX_BYTES + form_room, MAX_BYTES, "That file", reverse("ledger:cycles"))
    default = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440
    return {reverse("ledger:import"): flex}, Limit(default, default)


application = BodyCap(dispatch, *_limits())  # type: ignore[arg-type]
