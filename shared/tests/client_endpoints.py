"""What each client endpoint must send and read, spelt out independently of the clients' own
endpoint tables (`wheeldesk.clients`): a sample answer per model, and `ENDPOINTS`, one row per
call (the call through either client, the answer the service gives, the request it must see).
`test_clients.py` runs every row through the sync and the async client."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from wheeldesk.schemas.account import Account, Position
from wheeldesk.schemas.connection import ConnectionStatus
from wheeldesk.schemas.email import EmailAccepted, EmailRequest, EmailStatus
from wheeldesk.schemas.market import (
    Bar,
    Chain,
    History,
    OptionContract,
    OptionQuote,
    Quote,
    StockInfo,
    Subscriptions,
)
from wheeldesk.schemas.orders import Fill, Order, OrderPreview, OrderRequest, OrderStatus
from wheeldesk.schemas.scanner import (
    MarketScanRequest,
    MarketScanResult,
    MarketScanRow,
    ScanCode,
    ScanFilter,
    ScanLocation,
    ScannerParameters,
)
from wheeldesk.schemas.screener import (
    Criteria,
    PriceRequest,
    PriceRequestItem,
    PriceResponse,
    PriceResult,
    Rejection,
    ScanJob,
    ScanRequest,
    ScanResult,
)

EXPIRY = date(2026, 12, 18)
TS = datetime(2026, 11, 26, 15, 30, 1, 123456, tzinfo=UTC)
QUOTE = Quote(symbol="KO", bid=60.0, ask=60.2, last=60.1, ts=TS)
STATUS = ConnectionStatus(connected=True, state="connected", account_id="DU1", since=TS)
ACCOUNT = Account(account_id="DU1", is_paper=True, net_liquidation=250_000.0, ts=TS)
POSITION = Position(account_id="DU1", symbol="KO", sec_type="STK", quantity=200, avg_cost=60.0)
STOCK = StockInfo(symbol="KO", name="Coca-Cola", quote=QUOTE)
SCANNER_PARAMETERS = ScannerParameters(
    instruments=["STK"],
    locations=[ScanLocation(code="STK.US.MAJOR", name="Listed/NASDAQ", instruments=["STK"])],
    scan_codes=[ScanCode(code="HIGH_OPT_IMP_VOLAT", name="Highest Option Implied Vol")],
    filters=[ScanFilter(code="priceAbove", name="Price above", group="PRICE")],
    trading_day=date(2026, 6, 17),
)
MARKET_SCAN = MarketScanRequest(scan_code="HIGH_OPT_IMP_VOLAT", filters={"priceAbove": 20})
MARKET_SCAN_RESULT = MarketScanResult(
    scan_code="HIGH_OPT_IMP_VOLAT",
    location="STK.US.MAJOR",
    filters={"priceAbove": 20},
    rows=[MarketScanRow(rank=0, symbol="KO", conid=265002, price=60.1, market_cap=2.7e11)],
    as_of=TS,
)
HISTORY = History(
    symbol="KO", bars=[Bar(date=date(2026, 11, 25), open=60, high=61, low=59.5, close=60.5)]
)
CONTRACT = OptionContract(symbol="KO", expiry=EXPIRY, strike=57.5, right="P")
CHAIN = Chain(
    symbol="KO",
    right="P",
    underlying=QUOTE,
    expirations=[EXPIRY],
    options=[OptionQuote(contract=CONTRACT, bid=1.0, ask=1.2, delta=-0.22, ts=TS)],
    ts=TS,
)
ORDER_REQUEST = OrderRequest(
    client_order_id="wd-test-0001",
    symbol="KO",
    expiry=EXPIRY,
    strike=57.5,
    right="P",
    action="SELL",
    quantity=1,
    limit_price=Decimal("1.10"),
)
PREVIEW = OrderPreview(request=ORDER_REQUEST, account_id="DU1", is_paper=True, commission=1.05)
ORDER = Order(
    order_id=7,
    client_order_id="wd-test-0001",
    request=ORDER_REQUEST,
    status=OrderStatus.SUBMITTED,
    created=TS,
    updated=TS,
)
FILL = Fill(exec_id="e-1", time=TS, symbol="KO", sec_type="OPT", side="SLD", quantity=1, price=1.1)
SUBSCRIPTIONS = Subscriptions(symbols=["KO", "PEP"], streaming=["KO"], errors={"PEP": "no line"})
SCAN_REQUEST = ScanRequest(symbols=["KO"])
SCAN_RESULT = ScanResult(
    scan_id="scan-1",
    started=TS,
    criteria=Criteria(),
    symbols=["KO"],
    signals=[],
    rejections=[Rejection(symbol="KO", rule="min_roe", message="ROE 5% < 10%")],
)
PRICE_REQUEST = PriceRequest(
    items=[PriceRequestItem(right="P", spot=60.0, strike=57.5, dte=22, iv=0.2)]
)
PRICE = PriceResponse(
    results=[
        PriceResult(iv=0.2, price=0.41, delta=-0.21, gamma=0.1, theta=-0.02, vega=0.05, pop=79.0)
    ]
)
EMAIL = EmailRequest(to=["trader@example.com"], subject="Fill", text="KO filled")
ACCEPTED = EmailAccepted(id="em-1")
EMAIL_STATUS = EmailStatus(id="em-1", status="sent", to=["trader@example.com"], created=TS)


# (id, service, call, answer, (method, path, query, json body))
ENDPOINTS: list[tuple[str, str, Callable[[Any], Any], Any, tuple[Any, ...]]] = [
    ("bridge.status", "bridge", lambda c: c.status(), STATUS, ("GET", "/v1/status", [], None)),
    ("bridge.account", "bridge", lambda c: c.account(), ACCOUNT, ("GET", "/v1/account", [], None)),
    (
        "bridge.positions",
        "bridge",
        lambda c: c.positions(),
        [POSITION],
        ("GET", "/v1/positions", [], None),
    ),
    (
        "bridge.quotes",
        "bridge",
        lambda c: c.quotes(["KO", "PEP"]),
        [QUOTE],
        ("GET", "/v1/quotes", [["symbols", "KO,PEP"]], None),
    ),
    ("bridge.stock", "bridge", lambda c: c.stock("KO"), STOCK, ("GET", "/v1/stocks/KO", [], None)),
    (
        "bridge.history",
        "bridge",
        lambda c: c.history("KO"),
        HISTORY,
        ("GET", "/v1/stocks/KO/history", [["days", "365"]], None),
    ),
    (
        "bridge.history-iv",
        "bridge",
        lambda c: c.history("KO", 30, iv=True),
        HISTORY,
        ("GET", "/v1/stocks/KO/history", [["days", "30"], ["iv", "true"]], None),
    ),
    ("bridge.chain", "bridge", lambda c: c.chain("KO"), CHAIN, ("GET", "/v1/chains/KO", [], None)),
    (
        "bridge.chain-filters",
        "bridge",
        lambda c: c.chain(
            "KO", right="P", dte_min=7, dte_max=45, delta_min=0.15, delta_max=0.3, strikes=5
        ),
        CHAIN,
        (
            "GET",
            "/v1/chains/KO",
            [
                ["right", "P"],
                ["dte_min", "7"],
                ["dte_max", "45"],
                ["delta_min", "0.15"],
                ["delta_max", "0.3"],
                ["strikes", "5"],
            ],
            None,
        ),
    ),
    (
        "bridge.preview",
        "bridge",
        lambda c: c.preview(ORDER_REQUEST),
        PREVIEW,
        ("POST", "/v1/orders/preview", [], ORDER_REQUEST.model_dump(mode="json")),
    ),
    (
        "bridge.place",
        "bridge",
        lambda c: c.place(ORDER_REQUEST),
        ORDER,
        ("POST", "/v1/orders", [], ORDER_REQUEST.model_dump(mode="json")),
    ),
    ("bridge.orders", "bridge", lambda c: c.orders(), [ORDER], ("GET", "/v1/orders", [], None)),
    ("bridge.order", "bridge", lambda c: c.order(7), ORDER, ("GET", "/v1/orders/7", [], None)),
    (
        "bridge.cancel",
        "bridge",
        lambda c: c.cancel("7"),
        ORDER,
        ("DELETE", "/v1/orders/7", [], None),
    ),
    (
        "bridge.executions",
        "bridge",
        lambda c: c.executions(),
        [FILL],
        ("GET", "/v1/executions", [], None),
    ),
    (
        "bridge.executions-since",
        "bridge",
        lambda c: c.executions(date(2026, 11, 1)),
        [FILL],
        ("GET", "/v1/executions", [["since", "2026-11-01"]], None),
    ),
    (
        "bridge.subscriptions",
        "bridge",
        lambda c: c.subscriptions(),
        SUBSCRIPTIONS,
        ("GET", "/v1/subscriptions", [], None),
    ),
    (
        "bridge.subscribe",
        "bridge",
        lambda c: c.subscribe(["KO", "PEP"]),
        SUBSCRIPTIONS,
        ("POST", "/v1/subscriptions", [], {"symbols": ["KO", "PEP"]}),
    ),
    (
        "bridge.scanner_parameters",
        "bridge",
        lambda c: c.scanner_parameters(),
        SCANNER_PARAMETERS,
        ("GET", "/v1/scanner/parameters", [], None),
    ),
    (
        "bridge.run_scanner",
        "bridge",
        lambda c: c.run_scanner(MARKET_SCAN),
        MARKET_SCAN_RESULT,
        ("POST", "/v1/scanner/run", [], MARKET_SCAN.model_dump(mode="json")),
    ),
    (
        "screener.scan",
        "screener",
        lambda c: c.scan(SCAN_REQUEST),
        SCAN_RESULT,
        ("POST", "/v1/scans", [], SCAN_REQUEST.model_dump(mode="json")),
    ),
    (
        "screener.scan_job",
        "screener",
        lambda c: c.scan_job("scan-2"),
        ScanJob(scan_id="scan-2", status="running", symbols_total=250, symbols_done=40),
        ("GET", "/v1/scans/scan-2", [], None),
    ),
    (
        "screener.price",
        "screener",
        lambda c: c.price(PRICE_REQUEST),
        PRICE,
        ("POST", "/v1/price", [], PRICE_REQUEST.model_dump(mode="json")),
    ),
    (
        "notifier.send",
        "notifier",
        lambda c: c.send(EMAIL),
        ACCEPTED,
        ("POST", "/v1/emails", [], EMAIL.model_dump(mode="json")),
    ),
    (
        "notifier.status",
        "notifier",
        lambda c: c.status("em-1"),
        EMAIL_STATUS,
        ("GET", "/v1/emails/em-1", [], None),
    ),
]
