"""`python -m notifier`: serve the notifier API."""

import uvicorn
from wheeldesk.settings import load_settings

from notifier.app import build_app
from notifier.settings import NotifierSettings


def main() -> None:
    settings = load_settings(NotifierSettings)
    uvicorn.run(
        build_app(settings),
        host=settings.notifier_host,
        port=settings.notifier_port,
        log_config=None,
    )


if __name__ == "__main__":
    main()
