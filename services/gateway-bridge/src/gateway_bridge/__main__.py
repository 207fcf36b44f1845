"""`python -m gateway_bridge`: serve the bridge API.

Exits 2 with one line when the IB login turns out not to be the configured account (see
`connection.account_problem`): a bridge that cannot trust the account it reports must not run.
"""

import sys

import uvicorn
from wheeldesk.settings import load_settings

from gateway_bridge.app import build_app
from gateway_bridge.settings import BridgeSettings


def main() -> None:
    settings = load_settings(BridgeSettings)
    app = build_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.bridge_host, port=settings.bridge_port, log_config=None)
    )
    app.state.stop_server = lambda: setattr(server, "should_exit", True)
    server.run()
    fatal = getattr(app.state, "fatal", None)
    if fatal:
        print(f"configuration error: {fatal}", file=sys.stderr)
        raise SystemExit(2)


if __name__ == "__main__":
    main()
