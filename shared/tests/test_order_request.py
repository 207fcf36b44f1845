"""An order request's quantity is a JSON integer: `true`, `"5"` or `5.5` is refused, naming it."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from wheeldesk.schemas.orders import OrderRequest

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


def test_an_integer_quantity_is_taken() -> None:
    assert OrderRequest.model_validate_json(json.dumps({**BASE, "quantity": 5})).quantity == 5
