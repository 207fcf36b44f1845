"""An order request's quantity is a JSON integer: `true`, `"5"` or `5.5` is refused, naming it;
1043.0 is the integer JSON Schema says it is. Prices are what the published schema states: at
most 8 whole digits and 4 decimals, a string spelled plainly."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError
from wheeldesk.schemas.market import SubscriptionRequest
from wheeldesk.schemas.orders import OrderModify, OrderRequest

BASE = {
    "client_order_id": "wd-0123456789",
    "symbol": "KO",
    "expiry": "2030-01-18",
    "strike": 60,
    "right": "P",
    "action": "SELL",
    "limit_price": 1.1,
}


@pytest.mark.parametrize("quantity", [True, False, "5", 5.5, None])
def test_quantity_must_be_an_integer(quantity: object) -> None:
    with pytest.raises(ValidationError) as err:
        OrderRequest.model_validate_json(json.dumps({**BASE, "quantity": quantity}))
    assert err.value.errors()[0]["loc"] == ("quantity",)


@pytest.mark.parametrize("quantity", [5, 1043.0])
def test_an_integer_quantity_is_taken(quantity: float) -> None:
    taken = OrderRequest.model_validate_json(json.dumps({**BASE, "quantity": quantity}))
    assert taken.quantity == int(quantity) and type(taken.quantity) is int


@pytest.mark.parametrize(
    "price", ["1.23456", "123456789", 123456789.5, "1e2", " 1.5", "0", "0.0000", 0, -1, "-1"]
)
def test_a_limit_price_off_the_schema_is_refused_naming_it(price: object) -> None:
    with pytest.raises(ValidationError) as err:
        OrderRequest.model_validate_json(json.dumps({**BASE, "quantity": 1, "limit_price": price}))
    assert err.value.errors()[0]["loc"][0] == "limit_price"


@pytest.mark.parametrize(
    ("price", "taken"),
    [("12345678.1234", "12345678.1234"), ("0.0001", "0.0001"), (0.0003, "0.0003"), ("7", "7")],
)
def test_a_limit_price_the_schema_admits_is_taken(price: object, taken: str) -> None:
    order = OrderRequest.model_validate_json(
        json.dumps({**BASE, "quantity": 1, "limit_price": price})
    )
    assert order.limit_price == Decimal(taken)


def test_a_modify_takes_a_step_of_four_decimals_up_to_100() -> None:
    assert OrderModify(step="0.0005").step == Decimal("0.0005")  # type: ignore[arg-type]
    assert OrderModify(limit_price="-0.45").limit_price == Decimal("-0.45")  # type: ignore[arg-type]
    for step in ("0.00005", "100.01", "0"):
        with pytest.raises(ValidationError) as err:
            OrderModify(step=step)  # type: ignore[arg-type]
        assert err.value.errors()[0]["loc"] == ("step",)


def test_a_streaming_set_names_the_symbol_that_is_none() -> None:
    assert SubscriptionRequest(symbols=["ko", "BRK.B"]).symbols == ["ko", "BRK.B"]
    with pytest.raises(ValidationError) as err:
        SubscriptionRequest(symbols=["KO", "1X"])
    assert err.value.errors()[0]["loc"] == ("symbols",)
    assert err.value.errors()[0]["msg"] == "'1X' is not a symbol"
