"""Cancel and re-price are the order's creator's (and staff's), not every trader's.

docs/security.md says so: a working order is its creator's decision and a price step changes
it, so a second trader may see the account's sent order but neither cancel nor re-price it;
staff may (the emergency stop).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from wheeldesk_testing.moments import SIM_START

pytestmark = pytest.mark.django_db


def _user(username: str, *, trader: bool = True, staff: bool = False):  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user(
        username, f"{username}@example.com", "pw-98765-x", is_staff=staff
    )
    if trader:
        user.user_permissions.add(Permission.objects.get(codename="trade"))
    return user


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_only_the_creator_or_staff_may_cancel_or_reprice_a_working_order() -> None:
    from wheeldesk_web.orders.models import Order

    alice, bob, dave = _user("alice"), _user("bob"), _user("dave", trader=False, staff=True)
    Order.objects.create(
        client_order_id="ALICE-1",
        user=alice,
        symbol="KO",
        expiry=SIM_START.date() + timedelta(days=30),
        strike=Decimal("60"),
        right="P",
        action="SELL",
        quantity=1,
        limit_price=Decimal("1.10"),
        status="submitted",
        ib_order_id=5,
    )
    detail = reverse("orders:detail", args=["ALICE-1"])
    seen = {u.username: _client(u).get(detail).content.decode() for u in (alice, bob, dave)}
    # every one of them sees the account's sent order; the buttons only where they work
    assert all("ALICE-1" in page or "KO" in page for page in seen.values())
    assert 'id="cancel-order"' in seen["alice"] and 'id="reprice-order"' in seen["alice"]
    assert 'id="cancel-order"' in seen["dave"] and 'id="reprice-order"' in seen["dave"]
    assert 'id="cancel-order"' not in seen["bob"] and 'id="reprice-order"' not in seen["bob"]
    # bob, a trader but not the creator, is refused both, and the order is unchanged
    client = _client(bob)
    cancel = client.post(reverse("orders:cancel", args=["ALICE-1"]))
    reprice = client.post(reverse("orders:reprice", args=["ALICE-1"]), {"step": "0.05"})
    assert (cancel.status_code, reprice.status_code) == (403, 403)
    order = Order.objects.get(client_order_id="ALICE-1")
    assert (order.status, order.limit_price) == ("submitted", Decimal("1.10"))
