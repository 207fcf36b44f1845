"""Rows and workloads the tests put in the web's database, through the web's own code.

The web's own tests call the row builders in-process (through their `web_factories`); the
`seed_…` and `…_for` functions run in a process of their own in the web's environment
(`in_web.run_in_web` or `start_in_web`), against the database that environment names: the seed
before a real `manage.py worker` run, the orders a backup is taken under, two processes writing
one SQLite file at the same time. Moments are pinned (the harness's simulated Wednesday), never the wall clock.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from wheeldesk_testing.fills import EXPIRY, option_fill
from wheeldesk_testing.moments import SIM_START

if TYPE_CHECKING:
    from wheeldesk_web.orders.models import Order
    from wheeldesk_web.signals.models import ScanRun, Signal


def put_order(client_order_id: str, status: str, **fields: Any) -> Order:
    """The web's order (unsaved) to sell one KO 60 put (EXPIRY) at a 1.10 limit."""
    from wheeldesk_web.orders.models import Order

    contract = {"symbol": "KO", "expiry": EXPIRY, "strike": 60, "right": "P"}
    return Order(
        client_order_id=client_order_id,
        action="SELL",
        quantity=1,
        limit_price="1.10",
        status=status,
        **contract,
        **fields,
    )


def seed_emailable_signal() -> None:
    """A tier-A KO put signal in a finished scheduled scan, and a user (created once) whose saved
    "Income puts" scan emails its new CSP signals: what the worker's digest pass sends."""
    from django.contrib.auth import get_user_model
    from wheeldesk_web.alerts.models import SavedScan
    from wheeldesk_web.signals.models import ScanRun

    users = get_user_model().objects
    user = users.filter(username="wheel").first() or users.create_user(
        "wheel", "wheel@example.com", "pw-123456-xyz"
    )
    SavedScan.objects.get_or_create(user=user, name="Income puts", defaults={"kinds": "CSP"})
    run = ScanRun.objects.create(status=ScanRun.DONE, trigger="schedule", symbols=["KO"])
    new_signal(run, expiry=date(2030, 1, 18))


def new_signal(scan: ScanRun, **fields: Any) -> Signal:
    """A stored signal of `scan`: by default a tier-A KO 60 put (EXPIRY) at 1.10, `fields` on
    top (a covered call by `kind="CC"`)."""
    from wheeldesk_web.signals.models import Signal

    kind = fields.get("kind", "CSP")
    strike = fields.get("strike", 60.0)
    premium = fields.get("premium", 1.10)
    defaults: dict[str, Any] = {
        "kind": kind,
        "symbol": "KO",
        "expiry": EXPIRY,
        "strike": strike,
        "right": "C" if kind == "CC" else "P",
        "premium": premium,
        "collateral": strike * 100,
        "yield_pct": 1.83,
        "apy": 22.3,
        "pop": 82.0,
        "abs_delta": 0.2,
        "breakeven": strike - premium,
        "expected_move": 4.0,
        "distance_pct": 6.2,
        "dte": 30,
        "underlying_price": 64.0,
        "score": 88.0,
        "tier": "A",
    }
    return Signal.objects.create(scan=scan, **{**defaults, **fields})


def seed_submitted_puts(prefix: str, count: int, first_order_id: int) -> None:
    """`count` working orders (KO 60 puts sold at 1.10, IB ids from `first_order_id`), client
    order ids `<prefix>-0000`…: the fills the worker then receives find their order."""
    from wheeldesk_web.orders.models import Order

    Order.objects.bulk_create(
        put_order(f"{prefix}-{i:04d}", "submitted", ib_order_id=first_order_id + i)
        for i in range(count)
    )


def seed_filled_puts(prefix: str, count: int) -> None:
    """A user and `count` filled KO put orders with their executions recorded by the ledger (a
    minute apart from SIM_START): rows of every kind a move between databases must keep."""
    from django.contrib.auth import get_user_model
    from wheeldesk_web.ledger.services import record_fills

    get_user_model().objects.create_user("wheel", "wheel@example.com", "pw-123456-xyz")
    for i in range(count):
        coid = f"{prefix}-{i:04d}"
        put_order(coid, "filled").save()
        exec_id = f"0000e0d6.{i:08d}.01.01"
        at = SIM_START + timedelta(minutes=i)
        fill = option_fill(exec_id, client_order_id=coid, time=at, commission=0.65)
        record_fills([fill], "nats")


def record_executions_for(seconds: float, prefix: str) -> int:
    """The worker's side of a shared SQLite file, flat out for `seconds`: each execution stored in
    one transaction that reads, then writes (as recording a fill does). How many it stored."""
    from django.db import transaction
    from wheeldesk_web.ledger.models import Execution

    done, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        with transaction.atomic():
            n = Execution.objects.filter(symbol="PEP").count()  # read, then write
            Execution.objects.create(
                exec_id=f"{prefix}.{done}",
                time=SIM_START,  # filler rows: any fixed moment
                symbol="PEP",
                sec_type="STK",
                side="BOT",
                quantity=1,
                price=100 + n % 7,
                multiplier=1,
            )
        done += 1
    return done


def save_sessions_for(seconds: float) -> int:
    """The web's side of a shared SQLite file, flat out for `seconds`: a new session saved, then a
    user updated under a row lock (a login's writes). How many sessions it saved."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import transaction

    users = get_user_model().objects
    user, _ = users.get_or_create(username="sqlite-e2e")
    done, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        session = SessionStore()
        session["n"] = done
        session.save()
        with transaction.atomic():
            u = users.select_for_update().get(pk=user.pk)
            u.last_login = SIM_START  # a write to contend for the lock
            u.first_name = str(done)
            u.save(update_fields=["last_login", "first_name"])
        done += 1
    return done


def record_at_once(name: str, barrier_dir: str, count: int) -> int:
    """Record `count` KO put sales one fill at a time, as the worker's consumer does, starting
    together with the other writers that share `barrier_dir` (each names itself there and waits
    for two); how many executions this writer stored as new. Two of these at once are the
    worker's live fill and a Sync click recording the same execution."""
    from pathlib import Path

    from wheeldesk_web.ledger.services import record_fills

    barrier = Path(barrier_dir)
    (barrier / name).touch()
    deadline = time.monotonic() + 60
    while len(list(barrier.iterdir())) < 2:
        if time.monotonic() > deadline:
            raise TimeoutError("the other writer did not start")
        time.sleep(0.005)
    created = 0
    for i in range(count):
        fill = option_fill(f"race-{i}", time=SIM_START + timedelta(minutes=i), strike=50.0 + i)
        created += record_fills([fill], "nats")
    return created


def ledger_rows_for(symbol: str) -> dict[str, int]:
    """The symbol's executions and stored cycles, and the cycles a rebuild from them makes:
    stored cycles differing from rebuilt ones were written twice (or lost) by racing writers."""
    from wheeldesk_web.ledger.models import Execution, WheelCycle
    from wheeldesk_web.ledger.services import rebuild

    stored = WheelCycle.objects.filter(symbol=symbol).count()
    return {
        "executions": Execution.objects.filter(symbol=symbol).count(),
        "cycles": stored,
        "rebuilt": rebuild([symbol]),
    }
