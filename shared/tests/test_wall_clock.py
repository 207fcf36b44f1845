"""No test decides an expected value from the machine's date.

Test code, the test harness and the benchmarks take "today" from a pinned moment
(`wheeldesk_testing.moments`) or the broker's clock (`wheeldesk.markettime.BROKER_CLOCK`,
pinned for every test by the harness). A wall-clock read that stays must be on `ALLOWED`
with the reason it cannot change what a test expects. The suite went red on 2026-12-05 by
itself because tests picked contracts and expected settlements from the machine's date:
this keeps it from coming back. The list is empty and should stay so.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = [
    "shared/tests",
    "testing/src/wheeldesk_testing",
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
ALLOWED: dict[tuple[str, str], str] = {}


def _reads() -> Counter[tuple[str, str]]:
    found: Counter[tuple[str, str]] = Counter()
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for line in path.read_text(encoding="utf-8").splitlines():
                if WALL_CLOCK.search(line):
                    found[(rel, line.strip())] += 1
    return found


def test_no_wall_clock_date_in_test_code() -> None:
    unexplained = sorted(k for k in _reads() if k not in ALLOWED)
    assert not unexplained, (
        "wall-clock reads in test code: pin the moment (wheeldesk_testing.moments, "
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
    # Built from parts, so this file holds no wall-clock read of its own.
    today, now = "date" + ".today()", "datetime" + ".now(UTC)"
    caught = [f"x = {today}", f"NOW = {now}", "x = datetime" + ".utcnow()"]
    caught += ["d = timezone" + ".localdate()", "t = timezone" + ".now()"]
    caught += ["now = timezone" + ".localtime()"]
    assert all(WALL_CLOCK.search(s) for s in caught)
    assert not WALL_CLOCK.search("BROKER_CLOCK.now()")
    assert not WALL_CLOCK.search("t0 = time.perf_counter()")
    assert not WALL_CLOCK.search("deadline = time.time() + 5")
    assert not WALL_CLOCK.search("local = timezone" + ".localtime(adj.time)")
