"""`python -m screener`: serve the screener API."""

import uvicorn
from wheeldesk.settings import load_settings

from screener.app import build_app
from screener.settings import ScreenerSettings


def main() -> None:
    settings = load_settings(ScreenerSettings)
    uvicorn.run(
        build_app(settings),
        host=settings.screener_host,
        port=settings.screener_port,
        log_config=None,
    )


if __name__ == "__main__":
    main()
