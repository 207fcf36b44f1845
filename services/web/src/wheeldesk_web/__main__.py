"""`python -m wheeldesk_web`: serve the web app (ASGI, so server-sent events stream)."""

import os

import uvicorn


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wheeldesk_web.settings")
    from wheeldesk.logs import setup_logging

    from wheeldesk_web.config import SETTINGS
    from wheeldesk_web.core.metrics import prepare_multiprocess

    setup_logging("web", SETTINGS.log_level, SETTINGS.log_format)
    prepare_multiprocess(SETTINGS.web_workers)  # /metrics sums the workers (before they start)
    uvicorn.run(
        "wheeldesk_web.asgi:application",
        host=SETTINGS.web_host,
        port=SETTINGS.web_port,
        workers=SETTINGS.web_workers,
        log_config=None,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
