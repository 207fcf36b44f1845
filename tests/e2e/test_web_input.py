"""The web's forms and query strings fed what a browser never sends, over real HTTP.

Unknown tickers, 10,000-character notes, script tags, SQL-looking text, negative and huge
numbers, contracts that are not in the chain: each is refused with a message on the field
(a 200/400 re-render or a redirect to a page that says why), never a 5xx; the rows it would
have written are not there, and tws-sim (IBKR) holds no new order. Text that is a fine value
(notes that look like HTML or SQL) is stored as typed and shown escaped.

Runs on the fault stack (fuzzing the shared session stack could change what browser tests
see). Cost: about 25 s on an idle machine (plus the fault stack start, ~12 s, if first).
"""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from urllib.parse import quote

import httpx
import pytest
from wheeldesk_testing.e2e import form_values, listed_put, login
from wheeldesk_testing.stack import Stack
from wheeldesk_testing.web_state import WebState

pytestmark = pytest.mark.slow

SCRIPT = "<script>alert('wd')</script>"
SQL = "'; DROP TABLE watchlist_watchlistitem; --"
SHORT_SCRIPT = "<script>x</script>"  # short enough for the symbol field (20)
SHORT_SQL = "';DROP TABLE x;--"
SYMBOL = "VZ"  # the orders' stock: other fault tests move KO's and PEP's prices


@pytest.fixture(scope="module")
def stack(fault_stack: Stack) -> Stack:
    return fault_stack


@pytest.fixture(scope="module")
def client(stack: Stack):  # type: ignore[no-untyped-def]
    session = login(stack)
    yield session
    session.close()


def _count(stack: Stack, model: str) -> int:
    return WebState(stack).row_count(model)


def _orders_sent(stack: Stack) -> int:
    """Orders past their preview (sent to IBKR, or on their way)."""
    return len([o for o in WebState(stack).orders() if o["status"] != "previewed"])


def _quantity_and_limit(stack: Stack, coid: str) -> tuple[object, object]:
    draft = WebState(stack).order(coid)
    assert draft is not None
    return draft["quantity"], draft["limit_price"]


def _field_errors(page: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name, text in re.findall(r'id="id_(\w+)-error">([^<]+)<', page):
        errors.setdefault(name, []).append(html.unescape(text))
    return errors


def _sim_orders(stack: Stack) -> list[dict]:
    return httpx.get(f"{stack.control_url}/state/orders", timeout=10).json()


def _no_raw_script(page: str) -> None:
    assert "<script>alert(" not in page, "a script tag from input reached the page unescaped"


def _watchlist(stack: Stack, client: httpx.Client) -> int:
    assert client.get("/watchlist/").status_code == 200  # creates the default list if none
    pk = WebState(stack).watchlist_of(stack.username)
    assert pk is not None
    return pk


@pytest.mark.parametrize(
    ("symbol", "notes", "message"),
    [
        ("ZZZZQ", "", "Unknown ticker ZZZZQ: IBKR has no such stock."),
        ("KO", "n" * 10_000, "Ensure this value has at most 2000 characters (it has 10000)."),
        (SHORT_SCRIPT, "", "is not a ticker symbol"),
        (SHORT_SQL, "", "is not a ticker symbol"),
        ("KO" * 20, "", "Ensure this value has at most 20 characters (it has 40)."),
        ("", "", "This field is required."),
    ],
    ids=["unknown", "huge-notes", "script", "sql", "long-symbol", "empty"],
)
def test_watchlist_add_refuses_bad_input_and_stores_nothing(
    stack: Stack, client: httpx.Client, symbol: str, notes: str, message: str
) -> None:
    pk = _watchlist(stack, client)
    before = _count(stack, "watchlist.WatchlistItem")
    answer = client.post(
        f"/watchlist/{pk}/add/",
        data={"symbol": symbol, "notes": notes, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
    )
    assert answer.status_code == 400, answer.text[:500]
    assert message in html.unescape(answer.text)
    _no_raw_script(answer.text)
    assert "<script>x" not in answer.text
    assert _count(stack, "watchlist.WatchlistItem") == before


def test_watchlist_notes_that_look_like_html_or_sql_are_stored_as_typed_and_shown_escaped(
    stack: Stack, client: httpx.Client
) -> None:
    pk = _watchlist(stack, client)
    token = client.cookies["csrftoken"]
    web = WebState(stack)
    existing = web.watchlist_item(pk, "PEP")
    if not existing:
        added = client.post(
            f"/watchlist/{pk}/add/",
            data={"symbol": "pep", "notes": "", "csrfmiddlewaretoken": token},
        )
        assert added.status_code == 302, added.text[:500]
    item = web.watchlist_item(pk, "PEP")
    assert item is not None
    tables = web.table_count()
    for text in (SCRIPT, SQL):
        saved = client.post(
            f"/watchlist/{pk}/items/{item}/notes/",
            data={"notes": text, "csrfmiddlewaretoken": token},
        )
        assert saved.status_code == 302, saved.text[:500]
        assert web.watchlist_notes(item) == text
        page = client.get(f"/watchlist/?list={pk}")
        assert page.status_code == 200
        _no_raw_script(page.text)
        assert html.escape(text) in page.text  # shown as typed, as text
    assert web.table_count() == tables  # nothing dropped


SETTINGS_JUNK = [
    ({"dte_min": "-5"}, "dte_min", "greater than or equal to 0"),
    ({"min_price": "-100"}, "min_price", "greater than or equal to 0"),
    ({"max_signals_per_symbol": "-1"}, "max_signals_per_symbol", "greater than or equal to 0"),
    ({"max_price": "1e400"}, "max_price", "Enter a number."),
    ({"dte_max": "99999999999999999999999"}, "dte_max", "less than or equal to"),
    ({"delta_max": "abc"}, "delta_max", "Enter a number."),
    ({"take_profit_pct": "nan"}, "take_profit_pct", "Enter a number."),
    ({"min_open_interest": SCRIPT}, "min_open_interest", "Enter a whole number."),
    ({"notify_address": SQL}, "notify_address", "Enter a valid email address."),
    ({"notify_address": "a" * 10_000}, "notify_address", "at most 254 characters"),
    ({"scan_times": SCRIPT}, "scan_times", "is not a time like 09:45"),
    ({"earnings": "sometimes"}, "earnings", "Select a valid choice."),
]


@pytest.mark.parametrize(
    ("junk", "field", "message"),
    SETTINGS_JUNK,
    ids=[f"{f}-{i}" for i, (_, f, _) in enumerate(SETTINGS_JUNK)],
)
def test_settings_form_refuses_bad_numbers_and_text_and_saves_nothing(
    stack: Stack, client: httpx.Client, junk: dict[str, str], field: str, message: str
) -> None:
    page = client.get("/settings/")
    assert page.status_code == 200
    values = form_values(page.text, "settings-form")
    assert field in values, sorted(values)
    before = WebState(stack).user_configs()
    answer = client.post("/settings/", data={**values, **junk})
    assert answer.status_code == 400, answer.text[:500]
    errors = _field_errors(answer.text)
    assert set(errors) == {field}, errors  # the bad field alone is marked
    assert any(message in e for e in errors[field]), errors
    assert "Settings not saved" in answer.text
    _no_raw_script(answer.text)
    assert WebState(stack).user_configs() == before


ADJUSTMENT = {
    "kind": "dividend",
    "symbol": "VZ",
    "time": "2026-11-20T10:00",
    "quantity": "0",
    "price": "0",
    "amount": "10",
    "note": "e2e",
}


@pytest.mark.parametrize(
    ("junk", "message"),
    [
        ({"amount": "Infinity"}, "amount: Enter a number."),
        ({"amount": "1" * 30}, "amount: Ensure that there are no more than"),
        ({"amount": "-1e999"}, "amount: "),
        ({"symbol": SHORT_SCRIPT}, "symbol: "),
        ({"symbol": SHORT_SQL}, "symbol: "),
        ({"time": "9999-99-99"}, "time: "),
        ({"kind": "<b>gift</b>"}, "kind: Select a valid choice."),
        ({"note": "n" * 10_000}, "note: Ensure this value has at most 500 characters"),
    ],
    ids=["inf", "digits", "neg-inf", "script", "sql", "time", "kind", "huge-note"],
)
def test_ledger_adjustment_refuses_junk_and_stores_nothing(
    stack: Stack, client: httpx.Client, junk: dict[str, str], message: str
) -> None:
    before = _count(stack, "ledger.Adjustment")
    answer = client.post(
        "/ledger/adjust/",
        data={**ADJUSTMENT, **junk, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
        follow_redirects=True,
    )
    assert answer.status_code == 200, answer.text[:300]
    shown = html.unescape(answer.text)
    assert f"Adjustment not saved — {message}" in shown, re.findall(r"Adjustment not[^<]*", shown)
    _no_raw_script(answer.text)
    assert "<script>x" not in answer.text
    assert _count(stack, "ledger.Adjustment") == before


@pytest.mark.parametrize(
    ("junk", "message"),
    [
        ({"max_dte": "-5"}, "greater than or equal to 0"),
        ({"min_apy": "1e999"}, "Enter a number."),
        ({"max_delta": "NaN"}, "Enter a number."),
        ({"kinds": SHORT_SCRIPT}, "Use CSP, CC, ROLL or CLOSE, comma-separated."),
        ({"name": "n" * 1000}, "at most 60 characters"),
        ({"watchlist": "999999"}, "Select a valid choice."),
    ],
    ids=["dte-neg", "apy-inf", "delta-nan", "kinds-script", "huge-name", "not-my-list"],
)
def test_saved_scan_form_refuses_junk_and_stores_nothing(
    stack: Stack, client: httpx.Client, junk: dict[str, str], message: str
) -> None:
    before = _count(stack, "alerts.SavedScan")
    answer = client.post(
        "/alerts/",
        data={
            "name": "e2e scan",
            "kinds": "CSP",
            "email": "on",
            **junk,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
    )
    assert answer.status_code in (200, 400), answer.text[:300]
    assert message in html.unescape(answer.text)
    _no_raw_script(answer.text)
    assert _count(stack, "alerts.SavedScan") == before


_PUTS: dict[str, tuple[str, float, float]] = {}


def _put(stack: Stack) -> tuple[str, float, float]:
    """A listed put with a bid, of a stock no other test moves the price of; looked up once."""
    if SYMBOL not in _PUTS:
        _PUTS[SYMBOL] = listed_put(stack, SYMBOL)
    return _PUTS[SYMBOL]


def _draft(client: httpx.Client, **params: object) -> httpx.Response:
    """Prepare a draft as the "Preview order" button does (a POST: a GET only shows the page)."""
    data = {"right": "P", "action": "SELL", **params}
    return client.post(
        "/orders/new/", data={**data, "csrfmiddlewaretoken": client.cookies["csrftoken"]}
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"quantity": -1}, "quantity"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": 10**9}, "quantity"),
        ({"limit_price": "-2.50"}, "limit_price"),
        ({"strike": "-50"}, "strike"),
        ({"symbol": SCRIPT}, "symbol"),
        ({"symbol": SQL}, "symbol"),
        ({"expiry": "2026-02-31"}, "expiry"),
        ({"right": "X"}, "right"),
    ],
    ids=[
        "qty-neg",
        "qty-zero",
        "qty-huge",
        "limit-neg",
        "strike-neg",
        "script",
        "sql",
        "expiry",
        "right",
    ],
)
def test_order_ticket_from_a_bad_query_is_refused_with_the_field_and_nothing_is_drafted(
    stack: Stack, client: httpx.Client, change: dict[str, object], message: str
) -> None:
    expiry, strike, bid = _put(stack)
    orders_before = _count(stack, "orders.Order")
    sim_before = len(_sim_orders(stack))
    answer = _draft(
        client,
        **{
            "symbol": SYMBOL,
            "expiry": expiry,
            "strike": strike,
            "quantity": 1,
            "limit_price": f"{bid:.2f}",
            **change,
        },
    )
    assert answer.status_code == 302 and answer.headers["location"] == "/orders/", answer.text[:300]
    listing = client.get("/orders/")
    assert listing.status_code == 200
    shown = html.unescape(listing.text)
    assert "Cannot prepare that order" in shown and message in shown
    _no_raw_script(listing.text)
    assert _count(stack, "orders.Order") == orders_before
    assert len(_sim_orders(stack)) == sim_before


@pytest.mark.parametrize(
    "new_strike", ["Infinity", "1e999", "123456789012345", "-1", SHORT_SCRIPT], ids=str
)
def test_a_roll_to_a_junk_strike_is_refused_and_drafts_nothing(
    stack: Stack, client: httpx.Client, new_strike: str
) -> None:
    expiry, strike, _ = _put(stack)
    later = (date.fromisoformat(expiry) + timedelta(days=28)).isoformat()
    orders_before = _count(stack, "orders.Order")
    answer = client.post(
        "/orders/roll/",
        data={
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
            "symbol": SYMBOL,
            "expiry": expiry,
            "strike": strike,
            "right": "P",
            "quantity": 1,
            "new_expiry": later,
            "new_strike": new_strike,
        },
    )
    assert answer.status_code == 200, answer.text[:300]
    assert "The new contract needs a later expiry and a positive strike." in html.unescape(
        answer.text
    )
    _no_raw_script(answer.text)
    assert "<script>x" not in answer.text
    assert _count(stack, "orders.Order") == orders_before


def _coid(page: str) -> str:
    found = re.search(r'id="client-order-id">([^<]+)<', page)
    assert found, page[:500]
    return found.group(1)


@pytest.mark.parametrize(
    "contract",
    ["strike-not-in-chain", "symbol-not-in-chain", "expiry-not-listed"],
)
def test_a_contract_not_in_the_chain_is_blocked_at_preview_and_never_reaches_ibkr(
    stack: Stack, client: httpx.Client, contract: str
) -> None:
    expiry, strike, bid = _put(stack)
    params: dict[str, object] = {
        "symbol": SYMBOL,
        "expiry": expiry,
        "strike": strike,
        "quantity": 1,
        "limit_price": f"{bid:.2f}",
    }
    if contract == "strike-not-in-chain":
        params["strike"] = "1234.5"
    elif contract == "symbol-not-in-chain":
        params["symbol"] = "ZZZZQ"
    else:
        params["expiry"] = (
            date.fromisoformat(expiry) + timedelta(days=1)
        ).isoformat()  # a Saturday-ish gap
    sim_before = len(_sim_orders(stack))
    sent_before = _orders_sent(stack)
    preview = _draft(client, **params)
    assert preview.status_code == 302, preview.text[:300]
    page = client.get(preview.headers["location"])
    assert page.status_code == 200, page.text[:500]
    assert 'id="blocked-note"' in page.text, "the preview must block a contract IBKR does not list"
    assert f"IBKR knows no option {params['symbol']} " in html.unescape(page.text)
    coid = _coid(page.text)
    confirm = client.post(f"/orders/{coid}/confirm/", data=form_values(page.text, "confirm-form"))
    assert confirm.status_code == 302
    after = client.get(confirm.headers["location"])
    assert "Blocked by pre-trade checks" in html.unescape(after.text)
    assert WebState(stack).order_status(coid) == "previewed"
    assert _orders_sent(stack) == sent_before
    assert len(_sim_orders(stack)) == sim_before
    assert not [o for o in _sim_orders(stack) if o.get("order_ref") == coid]


@pytest.mark.parametrize(
    ("quantity", "limit"),
    [("-1", "1.00"), ("100000", "1.00"), ("abc", "1.00"), ("1", "-1"), ("1", SCRIPT)],
    ids=["qty-neg", "qty-huge", "qty-text", "limit-neg", "limit-script"],
)
def test_editing_a_preview_with_bad_numbers_changes_nothing(
    stack: Stack, client: httpx.Client, quantity: str, limit: str
) -> None:
    expiry, strike, bid = _put(stack)
    draft = _draft(
        client, symbol=SYMBOL, expiry=expiry, strike=strike, quantity=1, limit_price=f"{bid:.2f}"
    )
    assert draft.status_code == 302
    coid = draft.headers["location"].rstrip("/").rsplit("/", 1)[-1]
    before = _quantity_and_limit(stack, coid)
    answer = client.post(
        f"/orders/{coid}/update/",
        data={
            "quantity": quantity,
            "limit_price": limit,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
    )
    assert answer.status_code == 302
    page = client.get(answer.headers["location"])
    assert page.status_code == 200 and "Not updated" in html.unescape(page.text)
    _no_raw_script(page.text)
    assert _quantity_and_limit(stack, coid) == before


QUERY_PAGES = [
    ("/signals/?sort=" + quote(SCRIPT), 200, None),
    ("/signals/?sort=" + quote(SQL), 200, None),
    ("/signals/?tier=Z&kind=" + quote(SCRIPT), 200, None),
    ("/signals/?apy_min=abc", 400, "APY % (simple) min: enter a number"),
    ("/signals/?apy_min=nan&pop_max=-inf&dte_min=1e999", 400, "DTE min: enter a number"),
    ("/signals/export.csv?dte_min=1e999", 200, None),
    ("/signals/?page=-1", 200, None),
    ("/signals/?page=999999999999999999999999", 200, None),
    ("/signals/?page=" + quote(SQL), 200, None),
    ("/signals/?scan=999999999999999999999", 404, None),
    ("/signals/export.csv?apy_min=nan&sort=" + quote(SQL), 200, None),
    ("/stocks/ZZZZQ/", 404, "Unknown ticker ZZZZQ: IBKR has no such stock."),
    ("/stocks/" + quote(SCRIPT, safe="") + "/", 404, None),
    ("/stocks/ZZZZQ/chain/table/", 404, "Unknown ticker ZZZZQ."),
    ("/stocks/KO/chain/?expiry=2020-13-45", 200, None),
    ("/stocks/KO/chain/table/?expiry=" + quote(SQL), 200, f"No KO options expire on “{SQL[:20]}”"),
    ("/stocks/KO/chain/table/?expiry=1999-01-01", 200, "No KO options expire on “1999-01-01”"),
    ("/stocks/?page=-1&sort=" + quote(SCRIPT), 200, None),
    ("/orders/?page=-1", 200, None),
    ("/ledger/?page=-5&sort=" + quote(SCRIPT), 200, None),
    ("/watchlist/?list=999999999999999999999", 404, None),
    ("/watchlist/?list=-1", 404, None),  # not 1-18 ASCII digits: no list (nor `¹`, `٣`)
    ("/watchlist/?list=%C2%B9", 404, None),
    ("/watchlist/?list=%D9%A3", 404, None),
    ("/signals/?scan=%C2%B9", 404, None),
    ("/signals/?scan=%D9%A3", 404, None),
    ("/orders/new/?signal=%C2%B9", 404, None),
    ("/orders/new/?signal=%D9%A3", 404, None),
    ("/orders/new/?signal=" + quote(SQL), 404, None),
    ("/ledger/cycles/" + quote(SQL, safe="") + "/", 404, None),
]


@pytest.mark.parametrize(
    ("path", "status", "message"), QUERY_PAGES, ids=[p for p, _, _ in QUERY_PAGES]
)
def test_junk_in_query_strings_and_paths_never_gives_a_5xx(
    client: httpx.Client, path: str, status: int, message: str | None
) -> None:
    answer = client.get(path)
    assert answer.status_code == status, f"{path}: {answer.status_code} {answer.text[:300]}"
    if message:
        assert message in html.unescape(answer.text)
    _no_raw_script(answer.text)
