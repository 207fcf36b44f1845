"""SQLite backups taken while the real worker writes, and their restore.

The worker runs as a real process consuming real JetStream order events (each one a fill: an
execution row and the order's update), so the database is being written while `backup_db` runs.
Every backup must be an intact, consistent snapshot holding at least everything committed before
it started; restoring the last one gives back every order and execution.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from wheeldesk import subjects
from wheeldesk.natsconn import connect, ensure_streams
from wheeldesk.schemas.orders import Order, OrderEvent, OrderRequest, OrderStatus
from wheeldesk_testing.fills import EXPIRY, option_fill
from wheeldesk_testing.in_web import MANAGE, manage, run_in_web, web_environ
from wheeldesk_testing.procs import ROOT, free_port
from wheeldesk_testing.waits import wait_until as wait_for
from wheeldesk_testing.web_seeds import seed_submitted_puts
from wheeldesk_testing.web_state import WebState
from wheeldesk_web.core.backup import take_backup

ORDERS = 150
# A pinned moment (the harness's simulated Wednesday, SIM_START in UTC), never the wall clock.
FILLED_AT = datetime(2026, 6, 17, 14, 30, tzinfo=UTC)

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def web_env(tmp_path: Path, fresh_nats) -> dict[str, str]:  # type: ignore[no-untyped-def]
    closed = f"http://127.0.0.1:{free_port()}"  # no bridge/screener/notifier: passes stay short
    env = web_environ(
        f"sqlite:///{tmp_path / 'data' / 'wheeldesk.sqlite3'}",
        str(tmp_path / "data"),
        BACKUP_DIR=str(tmp_path / "backups"),
        BACKUP_KEEP="50",
        NATS_URL=fresh_nats.url,
        BRIDGE_URL=closed,
        SCREENER_URL=closed,
        NOTIFIER_URL=closed,
    )
    manage(env, "migrate", "--noinput", "-v", "0")
    run_in_web(env, seed_submitted_puts, prefix="bkup", count=ORDERS, first_order_id=1000)
    return env


def fill_event(i: int) -> OrderEvent:
    fill = option_fill(
        f"0000e0d5.{i:08d}.01.01",
        client_order_id=f"bkup-{i:04d}",
        order_id=1000 + i,
        account_id="DU1234567",
        time=FILLED_AT + timedelta(seconds=i),
        commission=0.65,
    )
    request = OrderRequest(
        client_order_id=f"bkup-{i:04d}",
        symbol="KO",
        expiry=EXPIRY,
        strike=60.0,
        right="P",
        action="SELL",
        quantity=1,
        limit_price="1.10",
    )
    order = Order(
        order_id=1000 + i,
        client_order_id=f"bkup-{i:04d}",
        account_id="DU1234567",
        request=request,
        status=OrderStatus.FILLED,
        filled=1,
        remaining=0,
        avg_fill_price=1.10,
        commission=0.65,
        fills=[fill],
    )
    return OrderEvent(kind="fill", order=order, fill=fill)


async def publish_fills(url: str) -> None:
    nc = await connect(url, name="test-backup")
    js = nc.jetstream()
    await ensure_streams(js, [subjects.STREAM_IBKR])
    for i in range(ORDERS):
        await js.publish(subjects.order(1000 + i), fill_event(i).model_dump_json().encode())
    await nc.close()


def snapshot(db: Path) -> tuple[set[str], set[str], set[str]]:
    """(execution exec ids, filled order ids, all order ids) as a reader sees them now."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        execs = {r[0] for r in conn.execute("SELECT client_order_id FROM ledger_execution")}
        filled = {
            r[0]
            for r in conn.execute("SELECT client_order_id FROM orders_order WHERE status='filled'")
        }
        orders = {r[0] for r in conn.execute("SELECT client_order_id FROM orders_order")}
        (check,) = conn.execute("PRAGMA integrity_check").fetchone()
        assert check == "ok", f"{db}: {check}"
    finally:
        conn.close()
    return execs, filled, orders


def test_backups_taken_while_the_worker_writes_restore_every_order_and_execution(
    web_env: dict[str, str], tmp_path: Path
) -> None:
    db = tmp_path / "data" / "wheeldesk.sqlite3"
    backups = tmp_path / "backups"
    heartbeat = tmp_path / "data" / "worker.heartbeat"
    all_ids = {f"bkup-{i:04d}" for i in range(ORDERS)}
    worker = subprocess.Popen(
        [sys.executable, str(MANAGE), "worker", "--ignore-hours", "--tick", "0.5"],
        env=web_env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The worker's first pass writes its heartbeat and the scheduled backup (none existed).
        wait_for(heartbeat.exists, 60, "the worker's heartbeat")
        wait_for(lambda: any(backups.glob("wheeldesk-*.sqlite3")), 60, "the scheduled backup")
        scheduled = sorted(backups.glob("wheeldesk-*.sqlite3"))
        assert snapshot(scheduled[0]) == (set(), set(), all_ids)

        # Restoring is refused while the worker is alive; nothing is replaced.
        refused = manage(web_env, "restore_backup", str(scheduled[0]), check=False)
        assert refused.returncode != 0
        assert "stop it (and the web) before restoring" in refused.stderr

        asyncio.run(publish_fills(fresh_url(web_env)))
        # `manage.py backup_db` as an operator runs it, while the worker stores the fills...
        before, _, _ = snapshot(db)
        result = manage(web_env, "backup_db")
        path = Path(result.stdout.strip().split("backup written: ")[1].split(" (")[0])
        taken: list[tuple[int, Path]] = [(len(before), path)]
        # ...and the same backup, in a tight loop, until the worker has stored every fill (many
        # snapshots mid-write whatever the machine's speed).
        deadline = time.monotonic() + 150
        while True:
            before, filled, _ = snapshot(db)  # committed before this backup starts
            taken.append((len(before), take_backup(db, backups, keep=1000)))
            # every execution AND every order's filled status (a later write of the worker's)
            if len(before) == ORDERS and len(filled) == ORDERS:
                break
            assert time.monotonic() < deadline, "the worker stopped storing fills"
            time.sleep(0.05)
        mid_write = [(n, p) for n, p in taken if 0 < n < ORDERS]
        assert mid_write, "no backup ran while the worker was writing (make ORDERS larger)"
        for committed, path in taken:
            execs, filled, orders = snapshot(path)
            assert orders == all_ids, path  # no order lost, none half-written
            assert len(execs) >= committed, f"{path}: lost executions committed before it began"
            assert filled <= execs, f"{path}: an order filled without its execution"
            assert execs <= all_ids
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=60)
    assert worker.returncode == 0, stderr[-2000:]
    assert not heartbeat.exists(), "a stopped worker still looks alive"

    # The live database is now complete; a mid-write backup restores exactly its snapshot...
    committed, mid = mid_write[len(mid_write) // 2]
    expected = snapshot(mid)
    out = manage(web_env, "restore_backup", str(mid)).stdout
    assert f"{ORDERS} orders_order" in out and f"{len(expected[0])} ledger_execution" in out
    assert snapshot(db) == expected
    # ...after saving what it replaced, and the latest backup gives back every fill.
    (saved,) = backups.glob("pre-restore-*.sqlite3")
    assert snapshot(saved) == (all_ids, all_ids, all_ids)
    manage(web_env, "restore_backup", str(taken[-1][1]))
    assert snapshot(db) == (all_ids, all_ids, all_ids)
    # The restored database is the web's: Django reads it, migrations are current.
    web = WebState(web_env)
    filled = [o for o in web.orders() if o["status"] == "filled"]
    assert (web.row_count("ledger.Execution"), len(filled)) == (ORDERS, ORDERS)
    manage(web_env, "migrate", "--noinput")


def fresh_url(env: dict[str, str]) -> str:
    return env["NATS_URL"]


def test_restore_refuses_a_file_that_is_not_a_wheeldesk_backup(
    web_env: dict[str, str], tmp_path: Path
) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    result = manage(web_env, "restore_backup", str(junk), check=False)
    assert result.returncode != 0
    assert "not a readable SQLite database" in result.stderr
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).execute("CREATE TABLE t (x)").connection.close()
    result = manage(web_env, "restore_backup", str(empty), check=False)
    assert "not a Wheeldesk database" in result.stderr
    # The live database is untouched.
    assert len(snapshot(tmp_path / "data" / "wheeldesk.sqlite3")[2]) == ORDERS


def test_backups_rotate_to_the_newest_kept(tmp_path: Path) -> None:
    """Rotation keeps the newest by timestamp and leaves no partial file behind."""
    from wheeldesk_web.core.backup import take_backup

    db = tmp_path / "live.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE orders_order (client_order_id TEXT)")
    conn.commit()
    out = tmp_path / "rotated"
    for hour in range(4):
        conn.execute("INSERT INTO orders_order VALUES (?)", (f"o{hour}",))
        conn.commit()
        take_backup(db, out, keep=2, now=FILLED_AT + timedelta(hours=hour))
    conn.close()
    kept = sorted(p.name for p in out.iterdir())
    assert kept == ["wheeldesk-20260617T163000Z.sqlite3", "wheeldesk-20260617T173000Z.sqlite3"]
    newest = sqlite3.connect(out / kept[-1])
    assert newest.execute("SELECT COUNT(*) FROM orders_order").fetchone() == (4,)
    assert newest.execute("PRAGMA journal_mode").fetchone() == (
        "delete",
    )  # one self-contained file
    newest.close()
