"""One identity per execution: the same history told by the live feed (NATS), the bridge's
backfill and a Flex report — each alone and in every overlapping order — gives one ledger.

The history is the textbook wheel of issue 16, worked by hand:
  2026-03-02 sell 1 T 2026-03-20 50P @ 1.20 (fee 1.05)          premium 120
  2026-03-20 assigned: put leg at 0, 100 shares bought at 50     basis 50 − 1.20 = 48.80
  2026-03-23 sell 1 T 2026-04-17 52C @ 0.80 (fee 1.05)           premium 200, basis 48.00
  2026-04-17 the call expires worthless
  2026-04-20 sell 1 T 2026-05-15 52C @ 0.90 (fee 1.05)           premium 290, basis 47.10
  2026-05-15 called away: call leg at 0, 100 shares sold at 52
  realised = 290 + 100 × 52 − 100 × 50 − 3 × 1.05 = 486.85

The API (live feed and backfill) names every fill by IB's exec id; the live feed leaves the
book trades (expiry, assignment, call-away) unlabelled, the backfill labels them as the
bridge's classify_fills does. Flex leaves `ibExecID=""` on book trades and stamps them at
16:20 while the API says 16:30 — matched by their day. A second Flex query has no IB
Execution ID column at all (only `tradeID`). Dates are fixed; no clock is read.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from web_factories import stock_fill
from wheeldesk.schemas.orders import Fill
from wheeldesk_web.ledger.flex import FlexError, parse_flex
from wheeldesk_web.ledger.models import Execution, ExecutionAlias, WheelCycle
from wheeldesk_web.ledger.services import import_flex, record_fills
from wheeldesk_web.ledger.validation import InvalidFill

pytestmark = pytest.mark.django_db

ACCOUNT = "DU1234567"

# (key, sec, side, qty, price, right, strike, expiry, UTC time, book trade kind, fee, order)
# March 20 is after the DST switch: ET = UTC − 4.
HISTORY = [
    ("put", "OPT", "SLD", 1, "1.20", "P", 50, "2026-03-20", (3, 2, 15, 0, 5), "", "1.05", 11),
    ("put-a", "OPT", "BOT", 1, "0", "P", 50, "2026-03-20", (3, 20, 20, 30, 0), "assignment", None, None),
    ("stk-a", "STK", "BOT", 100, "50", "", None, None, (3, 20, 20, 30, 0), "assignment", None, None),
    ("call1", "OPT", "SLD", 1, "0.80", "C", 52, "2026-04-17", (3, 23, 14, 0, 7), "", "1.05", 12),
    ("call1-x", "OPT", "BOT", 1, "0", "C", 52, "2026-04-17", (4, 17, 20, 30, 0), "expiration", None, None),
    ("call2", "OPT", "SLD", 1, "0.90", "C", 52, "2026-05-15", (4, 20, 14, 1, 9), "", "1.05", 13),
    ("call2-a", "OPT", "BOT", 1, "0", "C", 52, "2026-05-15", (5, 15, 20, 30, 0), "assignment", None, None),
    ("stk-c", "STK", "SLD", 100, "52", "", None, None, (5, 15, 20, 30, 0), "assignment", None, None),
]  # fmt: skip
KEYS = [h[0] for h in HISTORY]


def api_fill(key: str, *, labelled: bool, commission: bool = True) -> Fill:
    """The fill as IB's API reports it (exec ids shaped like IB's)."""
    i = KEYS.index(key)
    _, sec, side, qty, px, right, strike, expiry, (mo, d, h, mi, s), kind, fee, oid = HISTORY[i]
    return Fill(
        exec_id=f"0000e001.{0x6A00 + i:08x}.01.01",
        order_id=oid,
        account_id=ACCOUNT,
        time=datetime(2026, mo, d, h, mi, s, tzinfo=UTC),
        symbol="T",
        sec_type=sec,
        expiry=date.fromisoformat(expiry) if expiry else None,
        strike=strike,
        right=right or None,
        multiplier=100 if sec == "OPT" else 1,
        side=side,
        quantity=qty,
        price=float(px),
        commission=float(fee) if fee and commission else None,
        kind=(kind or "trade") if labelled else "trade",
    )


def flex_row(key: str, *, exec_id_column: bool) -> str:
    i = KEYS.index(key)
    _, sec, side, qty, px, right, strike, expiry, (mo, d, h, mi, s), kind, fee, oid = HISTORY[i]
    book = bool(kind)
    # Flex stamps book trades 16:20 ET; trades at the API's moment, in ET (UTC − 5 / − 4).
    et_hour = h - (4 if (mo, d) >= (3, 8) else 5)
    when = f"2026{mo:02d}{d:02d};" + ("162000" if book else f"{et_hour:02d}{mi:02d}{s:02d}")
    signed = qty if side == "BOT" else -qty
    code = {"assignment": "A", "expiration": "Ep", "": ""}[kind]
    exec_attr = ""
    if exec_id_column:
        exec_attr = f' ibExecID="{"" if book else f"0000e001.{0x6A00 + i:08x}.01.01"}"'
    opt = (
        f'underlyingSymbol="T" putCall="{right}" strike="{strike}" '
        f'expiry="{expiry.replace("-", "")}" multiplier="100"'
        if sec == "OPT"
        else 'multiplier="1"'
    )
    return (
        f'<Trade accountId="{ACCOUNT}" assetCategory="{sec}" symbol="T" {opt} '
        f'dateTime="{when}" tradeDate="2026{mo:02d}{d:02d}" quantity="{signed}" '
        f'tradePrice="{px}" ibCommission="{"-" + fee if fee else "0"}" '
        f'buySell="{"BUY" if side == "BOT" else "SELL"}" notes="{code}" '
        f'tradeID="{9000 + i}" ibOrderID="{oid or ""}" levelOfDetail="EXECUTION"{exec_attr}/>'
    )


def flex_report(keys: list[str], *, exec_id_column: bool = True) -> bytes:
    rows = "".join(flex_row(k, exec_id_column=exec_id_column) for k in keys)
    return (
        '<FlexQueryResponse queryName="t" type="AF"><FlexStatements count="1">'
        f'<FlexStatement accountId="{ACCOUNT}"><Trades>{rows}</Trades></FlexStatement>'
        "</FlexStatements></FlexQueryResponse>"
    ).encode()


def snapshot() -> dict:
    """What a user sees of the ledger: executions (merged) and cycles."""
    execs = sorted(
        (
            e.exec_id,
            e.time.isoformat(),
            e.sec_type,
            e.side,
            str(e.quantity.normalize()),
            str(e.price.normalize()),
            str((e.commission or D(0)).normalize()),
            e.kind,
        )
        for e in Execution.objects.all()
    )
    cycles = [
        (c.key, c.state, c.outcome, c.premium, c.adjusted_cost_basis, c.realised_pnl, c.fees)
        for c in WheelCycle.objects.order_by("start")
    ]
    return {"executions": execs, "cycles": cycles}


def numbers() -> tuple:
    [c] = WheelCycle.objects.all()
    return (
        Execution.objects.count(),
        c.state,
        c.outcome,
        c.premium,
        c.adjusted_cost_basis,
        c.realised_pnl,
        c.fees,
    )


TEXTBOOK = (8, "closed", "called_away", D("290"), D("47.10"), D("486.85"), D("3.15"))


def reset() -> None:
    ExecutionAlias.objects.all().delete()
    Execution.objects.all().delete()
    WheelCycle.objects.all().delete()


SOURCES = {
    # each alone covers the whole history
    "live": lambda keys: record_fills([api_fill(k, labelled=False) for k in keys], "nats"),
    "backfill": lambda keys: record_fills([api_fill(k, labelled=True) for k in keys], "bridge"),
    "flex": lambda keys: import_flex(flex_report(keys)),
    "flex-no-id": lambda keys: import_flex(flex_report(keys, exec_id_column=False)),
}


@pytest.mark.parametrize("source", list(SOURCES))
def test_each_source_alone_gives_the_textbook_wheel(source):
    SOURCES[source](KEYS)
    assert numbers() == TEXTBOOK
    [c] = WheelCycle.objects.all()
    assert c.rolls == 0 and c.shares_acquired == 100


# Overlapping pieces: the live feed saw the first half, the backfill the last week (IB keeps
# about a week) plus the call-away, Flex everything.
LIVE_PART = KEYS[:5]
BACKFILL_PART = KEYS[4:]


@pytest.mark.parametrize("flex", ["flex", "flex-no-id"])
def test_every_overlapping_order_gives_one_identical_ledger(flex):
    pieces = {"live": LIVE_PART, "backfill": BACKFILL_PART, flex: KEYS}
    seen = {}
    for order in itertools.permutations(pieces):
        reset()
        for name in order:
            SOURCES[name](pieces[name])
        assert numbers() == TEXTBOOK, order
        seen[order] = snapshot()
        # nothing is double counted whichever source repeats
        for name in order:
            SOURCES[name](pieces[name])
        assert snapshot() == seen[order], f"{order} repeated"
    first = next(iter(seen.values()))
    for order, snap in seen.items():
        assert snap == first, order
    # every execution knows the sources that reported it
    by_id = {e.exec_id: e.source_list for e in Execution.objects.all()}
    assert by_id["0000e001.00006a00.01.01"] == ["nats", "flex"]  # the put sale
    assert by_id["0000e001.00006a07.01.01"] == ["bridge", "flex"]  # the call-away stock leg
    assert by_id["0000e001.00006a04.01.01"] == ["nats", "bridge", "flex"]  # the expiry


def test_two_flex_queries_with_and_without_the_exec_id_column_are_one_history():
    # The bug of issue 16: a query without the column doubled everything (premium 580).
    assert import_flex(flex_report(KEYS)) == (8, 8)
    assert import_flex(flex_report(KEYS, exec_id_column=False)) == (8, 0)
    assert import_flex(flex_report(KEYS)) == (8, 0)
    assert numbers() == TEXTBOOK


def test_live_then_flex_does_not_double_count_book_trades():
    # Issue 16 item 1: live feed first then Flex of the same period gave 5 duplicates,
    # realised 686.85 and basis 48.55. Now: 8 executions, 486.85, 47.10.
    record_fills([api_fill(k, labelled=False) for k in KEYS], "nats")
    total, added = import_flex(flex_report(KEYS))
    assert (total, added) == (8, 0)
    assert numbers() == TEXTBOOK
    # Flex's codes label the book trades the live feed left as plain trades
    kinds = dict(Execution.objects.values_list("exec_id", "kind"))
    assert kinds["0000e001.00006a01.01.01"] == "assignment"
    assert kinds["0000e001.00006a04.01.01"] == "expiration"


def correction_cases():
    first = api_fill("put", labelled=True)
    fixed = first.model_copy(update={"exec_id": "0000e001.00006a00.01.02", "price": 1.25})
    return first, fixed


@pytest.mark.parametrize("order", ["original first", "correction first"])
def test_an_execution_correction_replaces_the_earlier_one(order):
    first, fixed = correction_cases()
    fills = [first, fixed] if order == "original first" else [fixed, first]
    record_fills(fills[:1], "nats")
    record_fills(fills[1:], "bridge")
    [e] = Execution.objects.all()
    # the .02 revision wins: price 1.25 → premium 125
    assert (e.exec_id, e.price) == ("0000e001.00006a00.01.02", D("1.25"))
    assert WheelCycle.objects.get().premium == D("125")
    # Flex carrying the corrected id matches it too
    record_fills([fixed.model_copy(update={"commission": 1.05})], "flex")
    assert Execution.objects.count() == 1


def test_a_reused_exec_id_is_a_conflict_kept_and_flagged(client, django_user_model):
    """Issue 16 item 9: tws-sim restarted against an existing database reused exec ids; the
    second fill (BUY 1 KO @ 62.48) was dropped silently. Now both are kept, one flagged."""
    t = datetime(2026, 6, 17, 14, 30, tzinfo=UTC)
    old = stock_fill("0000e001.3b9aca01.01.01", time=t, price=60.10, account_id=ACCOUNT, order_id=7)
    new = old.model_copy(update={"quantity": 1, "price": 62.48, "time": t.replace(day=18)})
    assert record_fills([old], "nats") == 1
    assert record_fills([new], "nats") == 1
    assert record_fills([new, old], "bridge") == 0  # both again: nothing new, nothing merged
    rows = Execution.objects.order_by("id")
    assert [(r.quantity, r.price) for r in rows] == [(100, D("60.10")), (1, D("62.48"))]
    assert rows[1].conflict_with == rows[0]
    # both count: 101 shares held
    [c] = WheelCycle.objects.all()
    assert c.shares == 101
    user = django_user_model.objects.create_user("u", password="pw-long-enough-1")
    client.force_login(user)
    page = client.get("/ledger/").content.decode()
    assert 'id="ledger-conflicts"' in page
    assert "0000e001.3b9aca01.01.01" in page and "62.48" in page


def test_partial_fills_of_the_same_size_in_the_same_second_stay_two_fills():
    t = datetime(2026, 6, 17, 14, 30, 5, tzinfo=UTC)
    base = api_fill("put", labelled=True).model_copy(update={"time": t, "commission": 0.65})
    a = base.model_copy(update={"exec_id": "0000e001.00000001.01.01"})
    b = base.model_copy(update={"exec_id": "0000e001.00000001.02.01"})
    record_fills([a, b], "nats")
    # the same two from a Flex query without ids: two identical rows, numbered apart
    row = flex_row("put", exec_id_column=False).replace('tradeID="9000" ', "")
    row = row.replace("20260302;100005", "20260617;103005").replace(
        'ibCommission="-1.05"', 'ibCommission="-0.65"'
    )
    report = flex_report([]).replace(b"<Trades>", b"<Trades>" + (row * 2).encode())
    assert import_flex(report) == (2, 0)
    assert Execution.objects.count() == 2
    # 2 partial fills × 1 contract × 1.20 × 100 = 240 premium
    assert WheelCycle.objects.get().premium == D("240")


@pytest.mark.parametrize(
    "attr, value, message",
    [
        ("multiplier", "1e15", "multiplier"),
        ("multiplier", "inf", "multiplier"),
        ("multiplier", "-100", "multiplier"),
        ("quantity", "NaN", "quantity"),
        ("tradePrice", "1e20", "tradePrice"),
        ("dateTime", "00010101;100000", "year 1"),
        ("underlyingSymbol", "X" * 5000, "not a ticker"),
        ("dateTime", "20260302;10:00:00pm", "unreadable time"),
    ],
)
def test_poisoned_flex_values_are_refused_and_nothing_is_stored(attr, value, message):
    row = flex_row("put", exec_id_column=True)
    import re

    row = re.sub(rf'{attr}="[^"]*"', f'{attr}="{value}"', row)
    with pytest.raises(FlexError, match=message):
        import_flex(flex_report([]).replace(b"<Trades>", b"<Trades>" + row.encode()))
    assert Execution.objects.count() == 0


def test_poisoned_api_fill_is_refused():
    bad = api_fill("put", labelled=True).model_copy(update={"quantity": float("nan")})
    with pytest.raises(InvalidFill, match="quantity"):
        record_fills([bad], "nats")
    assert Execution.objects.count() == 0


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("20260302;100005", datetime(2026, 3, 2, 15, 0, 5, tzinfo=UTC)),
        ("20260302 100005", datetime(2026, 3, 2, 15, 0, 5, tzinfo=UTC)),
        ("2026-03-02 10:00:05", datetime(2026, 3, 2, 15, 0, 5, tzinfo=UTC)),
        ("2026-03-02;10:00:05", datetime(2026, 3, 2, 15, 0, 5, tzinfo=UTC)),
        ("20260302,100005", datetime(2026, 3, 2, 15, 0, 5, tzinfo=UTC)),
        ("2026-03-02, 10:00:05", datetime(2026, 3, 2, 15, 0, 5, tzinfo=UTC)),
        ("03/02/2026;10:00:05", datetime(2026, 3, 2, 15, 0, 5, tzinfo=UTC)),
    ],
)
def test_every_flex_time_format_reads_the_same_moment(raw, expected):
    # 10:00:05 ET on 2026-03-02 (EST, UTC − 5) = 15:00:05 UTC, never 16:00
    row = flex_row("put", exec_id_column=True).replace("20260302;100005", raw)
    [fill] = parse_flex(flex_report([]).replace(b"<Trades>", b"<Trades>" + row.encode()))
    assert fill.time == expected


def test_batches_small_enough_to_split_the_history_change_nothing(monkeypatch):
    # Stored in batches of 3 (each its own write transaction): matches across batch edges
    # still found, the same textbook ledger.
    from wheeldesk_web.ledger import services

    monkeypatch.setattr(services, "BATCH", 3)
    SOURCES["live"](LIVE_PART)
    SOURCES["flex-no-id"](KEYS)
    SOURCES["backfill"](BACKFILL_PART)
    assert numbers() == TEXTBOOK


def test_an_upload_over_20_mb_is_refused_while_it_streams(client, django_user_model):
    from django.core.files.uploadedfile import SimpleUploadedFile

    user = django_user_model.objects.create_user("big", password="pw-long-enough-1")
    client.force_login(user)
    big = flex_report(KEYS) + b" " * (21 * 1024 * 1024)
    r = client.post(
        "/ledger/import/", {"file": SimpleUploadedFile("t.xml", big, "text/xml")}, follow=True
    )
    assert r.status_code == 200
    assert "larger than 20 MB; nothing was stored" in r.content.decode()
    assert Execution.objects.count() == 0
    # an ordinary upload still goes through (CSRF still checked by the view)
    r = client.post(
        "/ledger/import/",
        {"file": SimpleUploadedFile("t.xml", flex_report(KEYS), "text/xml")},
        follow=True,
    )
    assert "Imported 8 new trade(s) of 8" in r.content.decode()
    assert numbers() == TEXTBOOK


def test_the_import_still_checks_csrf(django_user_model):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    user = django_user_model.objects.create_user("csrf", password="pw-long-enough-1")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    r = strict.post("/ledger/import/", {"file": SimpleUploadedFile("t.xml", flex_report(KEYS))})
    assert r.status_code == 403 and Execution.objects.count() == 0
