"""`python -m gateway_bridge`: serve the bridge API."""

import uvicorn
from wheeldesk.settings import load_settings

from gateway_bridge.app import build_app
from gateway_bridge.settings import BridgeSettings


def main() -> None:
    settings = load_settings(BridgeSettings)
    uvicorn.run(
        build_app(settings), host=settings.bridge_host, port=settings.bridge_port, log_config=None
    )


if __name__ == "__main__":
    main()
