"""The web server behind `python -m wheeldesk_web` (uvicorn; asgi.py says what runs where).

`WEB_WORKERS` processes share `WEB_PORT`, each with a listening socket of its own
(SO_REUSEPORT), so the kernel spreads new connections evenly over them. With uvicorn's own
workers (one shared socket), whichever process woke first took the connection: twenty
browsers ended up split 17/3 or 19/1, and a browser's keep-alive connection stays on its
process, so most pages queued on one core while the other idled. Elsewhere than Linux (where
SO_REUSEPORT does not balance) uvicorn's workers are used.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
from types import FrameType

import uvicorn

APP = "wheeldesk_web.asgi:application"
log = logging.getLogger("wheeldesk_web.server")


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wheeldesk_web.settings")
    from wheeldesk.logs import setup_logging

    from wheeldesk_web.config import SETTINGS

    setup_logging("web", SETTINGS.log_level, SETTINGS.log_format)


def _listen_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class _Server(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        from wheeldesk_web.live.hub import close_all_streams

        close_all_streams()  # else uvicorn waits for the live streams, which never end
        await super().shutdown(sockets)


def serve_one() -> None:
    """One worker process: the app, then its own socket on the shared port (uvicorn listens)."""
    _setup()
    from wheeldesk_web.config import SETTINGS

    config = uvicorn.Config(
        APP,
        host=SETTINGS.web_host,
        port=SETTINGS.web_port,
        log_config=None,
        lifespan="off",
        # A request still running then is cut: `docker stop` kills at 30 s (stop_grace_period).
        timeout_graceful_shutdown=20,
    )
    config.load()  # import Django before joining the port: no connection waits on a cold worker
    server = _Server(config)
    server.run(sockets=[_listen_socket(SETTINGS.web_host, SETTINGS.web_port)])


def main() -> None:
    _setup()
    from wheeldesk_web.config import SETTINGS
    from wheeldesk_web.core.metrics import prepare_multiprocess

    workers = SETTINGS.web_workers
    prepare_multiprocess(workers)  # /metrics sums the workers (before they start)
    if workers == 1:
        serve_one()
        return
    if not sys.platform.startswith("linux"):
        uvicorn.run(
            APP,
            host=SETTINGS.web_host,
            port=SETTINGS.web_port,
            workers=workers,
            log_config=None,
            lifespan="off",
            timeout_graceful_shutdown=20,
        )
        return
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=serve_one, name=f"web-{i}") for i in range(workers)]
    stopping = False

    def stop(signum: int, frame: FrameType | None = None) -> None:
        """SIGTERM/SIGINT: every worker finishes its requests in flight and closes its streams."""
        nonlocal stopping
        stopping = True
        for proc in procs:
            if proc.pid is not None and proc.exitcode is None:
                os.kill(proc.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for proc in procs:
        proc.start()
    log.info("web: %d worker processes on %s:%d", workers, SETTINGS.web_host, SETTINGS.web_port)
    # A worker that dies takes the server down (the supervisor — compose, `make run` — sees it)
    # rather than leaving a port that answers half its connections.
    multiprocessing.connection.wait([proc.sentinel for proc in procs])
    if not stopping:
        dead = [p.name for p in procs if not p.is_alive()]
        log.error("web worker exited: %s; stopping the others", ", ".join(dead))
        stop(signal.SIGTERM)
    for proc in procs:
        proc.join()
    # uvicorn re-raises the stop signal once shut down: that is a clean exit too.
    clean = {0, -signal.SIGTERM, -signal.SIGINT}
    sys.exit(0 if stopping and all(p.exitcode in clean for p in procs) else 1)
