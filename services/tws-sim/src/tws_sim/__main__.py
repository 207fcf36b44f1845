"""`python -m tws_sim --port 4002 --control-port 4080 --seed 7` (options: settings.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from tws_sim.settings import load


def main(argv: list[str] | None = None) -> int:
    config = load(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        # under `make run` (LOG_FORMAT=console) the runner stamps the time: one clock a line
        format=(
            "%(levelname)s %(name)s %(message)s"
            if os.environ.get("LOG_FORMAT") == "console"
            else "%(asctime)s %(levelname)s %(name)s %(message)s"
        ),
    )
    from tws_sim.server import serve

    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # e.g. the port is taken: one line, not a traceback
        print(f"tws-sim cannot listen: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
