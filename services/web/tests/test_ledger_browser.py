"""The ledger's reconciliation in the system Chromium against the whole stack on tws-sim.

tws-sim's account starts with 200 KO shares and a short AAPL put, and no PEP. Fetching the
executions stores the account's positions (the first sync gives KO and AAPL opening lots at IB's
average cost, so they agree); a Flex file then adds 100 PEP shares the account does not hold,
and the ledger page says so.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PEP_FLEX = (
    b'<FlexQueryResponse queryName="t" type="AF"><FlexStatements count="1">'
    b'<FlexStatement accountId="DU7654321"><Trades>'
    b'<Trade accountId="DU7654321" assetCategory="STK" symbol="PEP" multiplier="1"'
    b' dateTime="20260601;100000" quantity="100" tradePrice="150" buySell="BUY"'
    b' ibCommission="-1" ibExecID="0000e0ff.00000001.01.01" tradeID="77"'
    b' levelOfDetail="EXECUTION"/>'
    b"</Trades></FlexStatement></FlexStatements></FlexQueryResponse>"
)


def test_a_flex_file_adding_shares_the_account_does_not_hold_is_flagged(
    page: Page,
    stack,  # type: ignore[no-untyped-def]
) -> None:
    page.goto(f"{stack.web_url}/accounts/login/")
    page.fill("input[name=username]", stack.username)
    page.fill("input[name=password]", stack.password)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))

    page.goto(f"{stack.web_url}/ledger/")
    page.click("#ledger-sync")
    expect(page.locator("body")).to_contain_text("Fetched executions from IBKR")
    # the account's own positions got opening lots at the first sync: nothing differs yet
    expect(page.locator("#ledger-reconciliation")).to_have_count(0)

    page.set_input_files(
        "#flex-file", {"name": "pep.xml", "mimeType": "text/xml", "buffer": PEP_FLEX}
    )
    page.click("#flex-import")
    expect(page.locator("body")).to_contain_text("Imported 1 new trade(s) of 1")
    warning = page.locator("#ledger-reconciliation")
    expect(warning).to_contain_text(
        "ledger: 100 PEP · account: 0 — import history or add an adjustment"
    )
    page.goto(f"{stack.web_url}/dashboard/")
    expect(page.locator("#dashboard-reconciliation")).to_contain_text(
        "ledger: 100 PEP · account: 0"
    )
