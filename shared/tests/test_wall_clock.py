"""No test decides an expected value from the machine's date.

Test code, the test harness and the benchmarks take "today" from a pinned moment
(`wheeldesk.testing.moments`) or the broker's clock (`wheeldesk.markettime.BROKER_CLOCK`,
pinned for every test by the harness). A wall-clock read that stays must be on `ALLOWED`
with the reason it cannot change what a test expects (a log stamp, a duration, a timestamp
no assertion reads). The suite went red on 2026-12-05 by itself because tests picked
contracts and expected settlements from `date.today()`: this keeps it from coming back.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = [
    "shared/tests",
    "shared/src/wheeldesk/testing",
    "services/gateway-bridge/tests",
    "services/screener/tests",
    "services/notifier/tests",
    "services/tws-sim/tests",
    "services/web/tests",
    "tests",
    "bench",
]
WALL_CLOCK = re.compile(
    r"\bdate\.today\(|\bdatetime\.(?:now|utcnow|today)\(|\btimezone\.(?:now|localdate|localtime)\(\)"
)
# timezone.localtime(value) only converts a stored moment; without an argument it reads the clock.
# time.time() is not scanned: it measures durations and deadlines, never a calendar date.

# (path, the stripped source line) -> why it cannot decide an expected value.
ALLOWED: dict[tuple[str, str], str] = {
    (
        "tests/e2e/test_sqlite_concurrency.py",
        'exec_id=f"w.{{done}}", time=datetime.now(UTC), symbol="PEP", sec_type="STK",',
    ): "write-load filler rows: the test counts rows and errors, never reads their time",
    (
        "tests/e2e/test_sqlite_concurrency.py",
        "u.last_login = timezone.now()",
    ): "a write to contend for the lock; the value is never read",
    (
        "shared/src/wheeldesk/testing/soak.py",
        '"at": datetime.now(UTC).isoformat(),',
    ): "the soak report's log stamp (when the run happened)",
    (
        "bench/gateway_bridge.py",
        "received = datetime.now(UTC)",
    ): "latency measurement: wall time a tick arrived, compared with its send time",
    (
        "bench/__main__.py",
        'f"run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC._\\n"',
    ): "the benchmark report says when it ran",
    (
        "bench/__main__.py",
        'now = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"',
    ): "the benchmark report says when it ran",
}


def _reads() -> Counter[tuple[str, str]]:
    found: Counter[tuple[str, str]] = Counter()
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == "shared/tests/test_wall_clock.py":
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                if WALL_CLOCK.search(line):
                    found[(rel, line.strip())] += 1
    return found


def test_no_wall_clock_date_in_test_code() -> None:
    unexplained = sorted(k for k in _reads() if k not in ALLOWED)
    assert not unexplained, (
        "wall-clock reads in test code: pin the moment (wheeldesk.testing.moments, "
        "BROKER_CLOCK) or add the line to ALLOWED with its reason:\n"
        + "\n".join(f"  {path}: {line}" for path, line in unexplained)
    )


def test_allow_list_has_no_stale_entries() -> None:
    """An entry whose line is gone must go too, so the list stays the truth."""
    stale = sorted(k for k in ALLOWED if k not in _reads())
    assert not stale, "remove from ALLOWED (no longer in the code):\n" + "\n".join(
        f"  {path}: {line}" for path, line in stale
    )


def test_the_pattern_catches_what_it_must() -> None:
    caught = [
        "today = date.today()",
        "NOW = datetime.now(UTC)",
        "x = datetime.utcnow()",
        "d = timezone.localdate()",
        "t = timezone.now()",
    ]
    assert all(WALL_CLOCK.search(s) for s in caught)
    assert not WALL_CLOCK.search("BROKER_CLOCK.now()")
    assert not WALL_CLOCK.search("t0 = time.perf_counter()")
    assert not WALL_CLOCK.search("deadline = time.time() + 5")
    assert WALL_CLOCK.search("now = timezone.localtime()")
    assert not WALL_CLOCK.search("local = timezone.localtime(adj.time)")
