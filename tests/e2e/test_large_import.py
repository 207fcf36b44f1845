"""Issue 17, item 7: one large upload must not lock everyone out, on the real stack.

A 16 MB Flex report (about 30,000 executions of a years-long wheel history) is uploaded by
one user with a real HTTP client while a second user adds tickers to their watchlist: each
add succeeds within 2 s (the issue's Done-when; the import's batches are short write
transactions, so the second user's write gets in between), the importing user sees the
import's progress (an intermediate count, then the outcome), and every execution of the file
is stored. A body over the 20 MB cap is refused with 413 while it streams, long before the
client has sent it all, and one that announces its size is refused before any of it is sent;
a streamed (chunked) upload within the cap is imported.

The moments: tws-sim runs at the harness's pinned `SIM_START` (the web's broker clock follows
it); the report's dates are fixed. The one duration measured is the second user's request.
"""

from __future__ import annotations

import re
import select
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from wheeldesk_testing.e2e import login, wait_until
from wheeldesk_testing.stack import Stack
from wheeldesk_testing.web_state import WebState

pytestmark = pytest.mark.slow

BOB = ("bob", "bob-password-0123456789")
MB = 1024 * 1024
ADD_WITHIN = 2.0  # seconds: issue 17's Done-when for a write during a 16 MB import


# --- a realistic history: years of weekly wheels on many tickers ---------------------------
# Rows carry the columns of a Trades Flex Query at execution level. A put is sold each week (an
# execution with IB's `ibExecID`) and expires (a book trade: no execution id, `Ep`), except every
# fifth week, when it is assigned (`A`: the put closed at 0, 100 shares bought at the strike),
# a call is sold on the shares and called away (`A`). Every row is one execution to store.

ACCOUNT = "U7654321"
ROW = (
    '<Trade accountId="{acct}" currency="USD" assetCategory="{cat}" symbol="{sym}" '
    'description="{desc}" conid="{conid}" underlyingConid="{uconid}" underlyingSymbol="{und}" '
    'multiplier="{mult}" strike="{strike}" expiry="{exp}" putCall="{pc}" tradeID="{tid}" '
    'dateTime="{day};{time}" tradeDate="{day}" transactionType="{tt}" exchange="{ex}" '
    'quantity="{qty}" tradePrice="{px}" proceeds="{proceeds}" ibCommission="{fee}" '
    'ibCommissionCurrency="USD" openCloseIndicator="{oc}" notes="{notes}" buySell="{bs}" '
    'ibOrderID="{oid}" ibExecID="{eid}" levelOfDetail="EXECUTION"/>\n'
)
TICKERS = [f"T{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(60)]


def _row(
    n: int,
    ticker: str,
    day: date,
    *,
    opt: tuple[date, float, str] | None,
    qty: int,
    px: float,
    notes: str = "",
    book: bool = False,
    oc: str = "O",
) -> str:
    mult = 100 if opt else 1
    exp, strike, pc = opt or (None, 0.0, "")
    sym = f"{ticker:<6}{exp:%y%m%d}{pc}{int(strike * 1000):08d}" if exp else ticker
    return ROW.format(
        acct=ACCOUNT,
        cat="OPT" if opt else "STK",
        sym=sym,
        desc=f"{ticker} {exp:%d%b%y} {strike:g} {pc}".upper() if exp else ticker,
        conid=400_000_000 + n,
        uconid=270_000 + TICKERS.index(ticker),
        und=ticker if opt else "",
        mult=mult,
        strike=f"{strike:g}" if opt else "",
        exp=f"{exp:%Y%m%d}" if exp else "",
        pc=pc,
        tid=900_000_000 + n,
        day=f"{day:%Y%m%d}",
        time="160000" if book else "101500",
        tt="BookTrade" if book else "ExchTrade",
        ex="--" if book else "CBOE",
        qty=qty,
        px=f"{px:g}",
        proceeds=f"{-qty * px * mult:.2f}",
        fee="0" if book else "-1.05",
        oc=oc,
        notes=notes,
        bs="BUY" if qty > 0 else "SELL",
        oid="" if book else 1_000_000 + n,
        eid="" if book else f"0000e0d5.{n:08x}.01.01",
    )


def flex_history(target_bytes: int) -> tuple[bytes, int]:
    """A Flex report of about `target_bytes` and the number of executions in it."""
    rows: list[str] = []
    size = 0
    week = 0
    start = date(2012, 1, 6)  # a Friday
    while size < target_bytes:
        for k, ticker in enumerate(TICKERS):
            day = start + timedelta(weeks=week)
            base = 20.0 + k
            put = (day + timedelta(days=7), base, "P")
            added = [_row(len(rows), ticker, day - timedelta(days=3), opt=put, qty=-1, px=0.85)]
            if week % 5 != 4:
                added.append(
                    _row(
                        len(rows) + 1,
                        ticker,
                        put[0],
                        opt=put,
                        qty=1,
                        px=0,
                        notes="Ep",
                        book=True,
                        oc="C",
                    )
                )
            else:
                n = len(rows)
                call = (put[0] + timedelta(days=7), base + 1, "C")
                added += [
                    _row(n + 1, ticker, put[0], opt=put, qty=1, px=0, notes="A", book=True, oc="C"),
                    _row(n + 2, ticker, put[0], opt=None, qty=100, px=base, notes="A", book=True),
                    _row(n + 3, ticker, put[0] + timedelta(days=1), opt=call, qty=-1, px=0.6),
                    _row(
                        n + 4, ticker, call[0], opt=call, qty=1, px=0, notes="A", book=True, oc="C"
                    ),
                    _row(
                        n + 5,
                        ticker,
                        call[0],
                        opt=None,
                        qty=-100,
                        px=base + 1,
                        notes="A",
                        book=True,
                        oc="C",
                    ),
                ]
            rows += added
            size += sum(len(r) for r in added)
        week += 1
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<FlexQueryResponse queryName="trades" type="AF">'
        f'<FlexStatements count="1"><FlexStatement accountId="{ACCOUNT}" fromDate="20120101" '
        'toDate="20251231" period="Custom"><Trades>\n'
    )
    tail = "</Trades></FlexStatement></FlexStatements></FlexQueryResponse>\n"
    return (head + "".join(rows) + tail).encode(), len(rows)


@pytest.fixture(scope="module")
def system() -> Iterator[Stack]:
    stack = Stack.start()
    WebState(stack).create_user(BOB[0], "bob@example.com", BOB[1])
    yield stack
    stack.stop()


def sign_in(stack: Stack, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=stack.web_url, timeout=120, follow_redirects=False)
    client.get("/accounts/login/")
    answer = client.post(
        "/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
    )
    assert answer.status_code == 302, answer.text[:300]
    return client


def add_ticker(bob: httpx.Client, watchlist: int, symbol: str) -> tuple[httpx.Response, float]:
    """Bob's "Add" on his watchlist; the answer and how long it took."""
    began = time.monotonic()
    answer = bob.post(
        f"/watchlist/{watchlist}/add/",
        data={"symbol": symbol, "notes": "", "csrfmiddlewaretoken": bob.cookies["csrftoken"]},
    )
    return answer, time.monotonic() - began


def progress(alice: httpx.Client, pk: int) -> tuple[int, int] | None:
    """The import's "N of M trades stored" as the page's poll shows it; None once finished."""
    answer = alice.get(f"/ledger/import/{pk}/progress/", headers={"HX-Request": "true"})
    assert answer.status_code == 200, answer.text[:300]
    if answer.headers.get("HX-Redirect"):
        return None
    done = re.search(r'id="flex-processed">(\d+)<', answer.text)
    total = re.search(r'id="flex-total">(\d+)<', answer.text)
    assert done and total, answer.text[:500]
    return int(done[1]), int(total[1])


def storing(alice: httpx.Client, pk: int) -> tuple[int, int] | None:
    """The progress once the first batch is in (None before); fails if it already finished."""
    now = progress(alice, pk)
    assert now is not None, "the import finished before the second user's adds"
    return now if now[0] > 0 else None


# serial: the 2 s it measures is the product's, not a second test worker's CPU contention.
@pytest.mark.serial
def test_a_16_mb_import_lets_another_user_add_tickers_and_shows_its_progress(
    system: Stack,
) -> None:
    data, rows = flex_history(16_000_000)
    assert 16_000_000 <= len(data) < 20 * MB and rows > 25_000
    alice = login(system)
    bob = sign_in(system, *BOB)
    assert bob.get("/watchlist/").status_code == 200  # his default list, created on first visit
    [watchlist] = WebState(system).watchlists(BOB[0])
    # before the import: the bridge has looked up a ticker once (its first contract lookup
    # is not what is measured), and an add takes what it takes on this machine
    baseline, took_alone = add_ticker(bob, watchlist, "MSFT")
    assert baseline.status_code == 302, baseline.text[:300]
    uploaded: dict[str, httpx.Response] = {}

    def upload() -> None:
        uploaded["answer"] = alice.post(
            "/ledger/import/",
            data={"csrfmiddlewaretoken": alice.cookies["csrftoken"]},
            files={"file": ("trades-2012-2025.xml", data, "text/xml")},
        )

    uploader = threading.Thread(target=upload)
    uploader.start()
    adds = [add_ticker(bob, watchlist, "KO")]  # while the file goes up and is read
    uploader.join(timeout=300)
    answer = uploaded["answer"]
    assert answer.status_code == 302, answer.text[:500]
    match = re.search(r"\?import=(\d+)$", answer.headers["location"])
    assert match, answer.headers["location"]
    pk = int(match[1])
    seen: list[tuple[int, int]] = []
    for symbol in ("PEP", "JNJ"):  # while the batches are being written
        now = wait_until(lambda: storing(alice, pk), timeout=120, what="batches being stored")
        seen.append(now)
        adds.append(add_ticker(bob, watchlist, symbol))
    wait_until(
        lambda: (p := progress(alice, pk)) is None or bool(seen.append(p)),
        timeout=600,
        what="the import finished",
    )
    # Bob's adds: each answered with success within 2 s, and his list shows them
    took = [round(t, 2) for _a, t in adds]
    for add, _took in adds:
        assert add.status_code == 302, add.text[:300]
    assert max(took) < ADD_WITHIN, (
        f"adds took {took} s during the import ({took_alone:.2f} s alone)"
    )
    page = bob.get(f"/watchlist/?list={watchlist}").text
    for symbol in ("MSFT", "KO", "PEP", "JNJ"):
        assert f'data-symbol="{symbol}"' in page
    # Alice saw the import going (a count part way), then its outcome
    assert all(total == rows for _done, total in seen)
    assert any(0 < done < rows for done, _total in seen), seen
    assert [d for d, _t in seen] == sorted(d for d, _t in seen)
    ledger = alice.get("/ledger/").text
    assert f"Imported {rows} new trade(s) of {rows} in the file (0 known)." in ledger
    web = WebState(system)
    assert web.row_count("ledger.Execution") == rows
    [flex] = [f for f in web.flex_imports() if f["id"] == pk]
    assert (flex["status"], flex["total"], flex["processed"], flex["added"]) == (
        "done",
        rows,
        rows,
        rows,
    )


def _raw_post(stack: Stack, headers: dict[str, str]) -> socket.socket:
    url = urlsplit(stack.web_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=60)
    head = ["POST /ledger/import/ HTTP/1.1", f"Host: {url.netloc}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    return sock


def _response(sock: socket.socket) -> tuple[int, str]:
    raw = b""
    while b"\r\n\r\n" not in raw or len(raw.split(b"\r\n\r\n", 1)[1]) < _length(raw):
        chunk = sock.recv(65536)
        if not chunk:
            break
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode(errors="replace")


def _length(raw: bytes) -> int:
    match = re.search(rb"(?i)content-length: *(\d+)", raw.split(b"\r\n\r\n", 1)[0])
    return int(match[1]) if match else 0


def test_an_oversize_streamed_upload_is_refused_while_most_of_it_is_unsent(
    system: Stack,
) -> None:
    alice = login(system)
    cookies = "; ".join(f"{k}={v}" for k, v in alice.cookies.items())
    total = 60 * MB
    boundary = "wheeldesk-boundary"
    sock = _raw_post(
        system,
        {
            "Cookie": cookies,
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Transfer-Encoding": "chunked",  # no Content-Length: only counting can stop it
        },
    )
    opening = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.xml"\r\n'
        "Content-Type: text/xml\r\n\r\n<FlexQueryResponse>"
    ).encode()
    piece = b"<Trade/>" * (32 * 1024)  # 256 KiB
    sent, answered = 0, False
    try:
        for data in [opening] + [piece] * (total // len(piece)):
            if select.select([sock], [], [], 0)[0]:
                answered = True
                break
            sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            sent += len(data)
    except (BrokenPipeError, ConnectionResetError):
        answered = True
    assert answered, "the server read the whole 60 MB body without answering"
    status, body = _response(sock)
    sock.close()
    assert status == 413
    assert "That file is larger than 20 MB" in body and "Nothing was stored" in body
    # the answer came once the cap was passed: most of the body was never sent
    assert 20 * MB < sent < total / 2, sent
    assert [f for f in WebState(system).flex_imports() if f["filename"] == "huge.xml"] == []
    assert alice.get("/ledger/").status_code == 200


def test_a_body_announced_over_the_cap_is_refused_before_it_is_sent(system: Stack) -> None:
    alice = login(system)
    cookies = "; ".join(f"{k}={v}" for k, v in alice.cookies.items())
    sock = _raw_post(
        system,
        {
            "Cookie": cookies,
            "Content-Type": "multipart/form-data; boundary=b",
            "Content-Length": str(50 * MB),
        },
    )
    status, body = _response(sock)  # not a byte of the body sent
    sock.close()
    assert status == 413 and "That file is larger than 20 MB" in body
    # any other form: Django's 2.5 MB body limit, refused the same way
    big = alice.post(
        "/watchlist/1/add/",
        content=b"symbol=" + b"K" * (3 * MB),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert big.status_code == 413 and "That request is larger than 2.5 MB" in big.text


def test_a_chunked_upload_within_the_cap_is_imported(system: Stack) -> None:
    """A body without a length (a client streaming it) is counted in and handed to Django
    with its length: the import reads it, as it would the same file sent with one."""
    alice = login(system)
    data, rows = flex_history(1)  # one week of 60 tickers: a report of a single batch or less
    boundary = "wheeldesk-chunked"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
            f"{alice.cookies['csrftoken']}\r\n--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="week.xml"\r\n'
            "Content-Type: text/xml\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    answer = alice.post(
        "/ledger/import/",
        content=iter([body[i : i + 4096] for i in range(0, len(body), 4096)]),  # chunked
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert answer.status_code == 302 and answer.headers["location"] == "/ledger/", answer.text
    ledger = alice.get("/ledger/").text
    # Every row read from the streamed body. They are the first week of the 16 MB history, so
    # after that test (make test's serial phase, or this file run alone) they are all known.
    found = re.search(r"Imported (\d+) new trade\(s\) of (\d+) in the file", ledger)
    assert found and int(found.group(2)) == rows, ledger[-2000:]
