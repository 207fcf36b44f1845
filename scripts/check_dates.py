"""Run the calendar-sensitive suites with the machine's date moved (Debian's faketime).

The suite once went red by itself on a Saturday: tests picked contracts and expected
settlements from the wall-clock date. Every test now pins its moments (tws-sim's start, the
broker clock); this check proves it by running the tws-sim, screener and ledger suites at
dates chosen to stress the calendar. `make test` runs it before the main suite.

    python scripts/check_dates.py            # every date
    python scripts/check_dates.py --list     # what runs, and why those dates
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# UTC moments (faketime's clock), each with what makes it hard.
DATES: dict[str, str] = {
    "2026-12-05 17:00:00": "a Saturday: the market is shut, the date the suite first went red",
    "2027-01-14 20:30:00": "15:30 New York the day before the January 2027 monthly expiry",
    "2028-01-01 03:30:00": "New Year's Eve 22:30 in New York while UTC is already in 2028",
}

SUITES = [
    # tws-sim's fault-injection and connection tests do not depend on the date and take most
    # of its time; everything that builds chains, expiries, history or settles is here.
    "services/tws-sim/tests/test_clock.py",
    "services/tws-sim/tests/test_contracts.py",
    "services/tws-sim/tests/test_market_hours.py",
    "services/tws-sim/tests/test_marketdata.py",
    "services/tws-sim/tests/test_orders.py",
    "services/tws-sim/tests/test_spreads.py",
    "services/tws-sim/tests/test_wsh.py",
    "services/screener/tests",
    "services/web/tests/test_ledger_cycles.py",
    "services/web/tests/test_ledger_flex.py",
    "services/web/tests/test_ledger_pages.py",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print the dates and suites")
    args = parser.parse_args(argv)
    suites = [s for s in SUITES if (ROOT / s).exists()]
    if args.list:
        for moment, why in DATES.items():
            print(f"{moment} UTC  {why}")
        print("suites:", " ".join(suites))
        return 0
    faketime = shutil.which("faketime")
    if faketime is None:
        print("check_dates: faketime is not installed (Debian package 'faketime')", file=sys.stderr)
        return 2
    # The three runs go at once: most of their time is waiting on tws-sim and the bridge, so
    # on 2 cores they take little longer together than one alone. Each run's output is
    # printed whole when it ends.
    with contextlib.ExitStack() as files:
        return _run_all(faketime, suites, files)


def _run_all(faketime: str, suites: list[str], files: contextlib.ExitStack) -> int:
    runs = {}
    t0 = time.monotonic()
    for block, moment in enumerate(DATES, start=1):
        # closed by the ExitStack when every run has been read
        log = files.enter_context(tempfile.TemporaryFile(mode="w+"))  # noqa: SIM115
        command = [faketime, "-f", f"@{moment}", sys.executable, "-m", "pytest", "-q"]
        command += ["-p", "no:cacheprovider", "--no-header", *suites]
        # each run its own ports (wheeldesk_testing.procs.free_port)
        env = {**os.environ, "FAKETIME_NO_CACHE": "1", "WHEELDESK_PORT_BLOCK": str(block)}
        runs[moment] = (subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log), log)
    failed = []
    for moment, why in DATES.items():
        proc, log = runs[moment]
        rc = proc.wait()
        log.seek(0)
        print(f"== tests at {moment} UTC ({why})", flush=True)
        print(log.read(), end="", flush=True)
        print(f"== {moment}: {'ok' if rc == 0 else 'FAILED'} ({time.monotonic() - t0:.0f} s)")
        if rc != 0:
            failed.append(moment)
    if failed:
        print(f"check_dates: the suites fail when the machine's date is {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
