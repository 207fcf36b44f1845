"""The web's perimeter: brute-force limits, CSP, internal-only probes, strict ids, safe GETs.

- 40 wrong passwords lock the sign-in (the right password is then refused, with the reason);
  10 anonymous password-reset requests send at most 5 emails, the rest answer 429 explained.
- Every page carries a Content-Security-Policy without inline script or style, and no template
  holds an inline script, style or event handler that the policy would block.
- `/metrics` and the health probes answer the machine and its private network before the Host
  check; `/metrics` is 404 from outside (a forwarded request), even with the internal token.
- `¹` or `٣` in `?list=`, `?scan=`, `?signal=` is no id: 404, never a 500, never read as 3.
- Safe HTTP: GETting every URL of the web (walked from the URLconf) changes no row.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.sessions.models import Session
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse
from wheeldesk_testing.moments import SIM_START
from wheeldesk_testing.urlconf import all_urls

pytestmark = pytest.mark.django_db
PASSWORD = "pw-98765-right"
TEMPLATES = Path(__file__).resolve().parents[1] / "src" / "wheeldesk_web"


@pytest.fixture
def alice():  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    user.user_permissions.add(Permission.objects.get(codename="trade"))
    return user


def test_forty_wrong_passwords_lock_the_sign_in_and_the_page_says_why(client, alice) -> None:
    answers = [
        client.post(reverse("login"), {"username": "alice", "password": f"guess-{i}"})
        for i in range(40)
    ]
    assert [a.status_code for a in answers[:9]] == [200] * 9  # the form, "wrong password"
    assert {a.status_code for a in answers[9:]} == {429}  # the 10th failure locks
    right = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert right.status_code == 429
    page = right.content.decode()
    assert 'id="locked-out"' in page
    assert "after 10 failed attempts, signing in from this address is locked for 15 minutes" in (
        page
    )
    assert "the right password too" in page
    assert "_auth_user_id" not in client.session
    # another address is not locked out of alice's account by the first one's guesses
    other = Client(REMOTE_ADDR="10.1.2.3")
    ok = other.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert ok.status_code == 302 and other.session["_auth_user_id"] == str(alice.pk)


def test_a_forged_forwarded_address_does_not_reset_the_count(client, alice) -> None:
    for i in range(12):
        client.post(
            reverse("login"),
            {"username": "alice", "password": f"guess-{i}"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
        )
    right = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert right.status_code == 429


def test_ten_anonymous_resets_are_throttled_not_ten_emails(client, alice, mailoutbox) -> None:
    answers = [
        client.post(reverse("password_reset"), {"email": "alice@example.com"}) for _ in range(10)
    ]
    assert [a.status_code for a in answers[:5]] == [302] * 5
    assert {a.status_code for a in answers[5:]} == {429}
    assert len(mailoutbox) == 5
    page = answers[-1].content.decode()
    assert 'id="reset-throttled"' in page and "No email was sent for this request." in page
    # the same count for an address with no account: the answer reveals nothing
    other = Client(REMOTE_ADDR="10.9.9.9")
    unknown = [
        other.post(reverse("password_reset"), {"email": "nobody@example.com"}) for _ in range(7)
    ]
    assert [a.status_code for a in unknown] == [302] * 5 + [429] * 2


def test_pages_carry_a_csp_without_inline_code(client, alice) -> None:
    client.force_login(alice)
    for path in (reverse("dashboard"), reverse("orders:list"), reverse("login")):
        policy = client.get(path)["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
        assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
        assert directives["default-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
        assert directives["object-src"] == "'none'"
    # what that policy would block: nothing of it in any template
    inline = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=|javascript:", re.I)
    offenders = [
        f"{path.relative_to(TEMPLATES)}: {m.group(0)!r}"
        for path in TEMPLATES.rglob("*.html")
        for m in inline.finditer(path.read_text())
    ]
    assert offenders == []


def test_metrics_only_on_the_internal_network(client) -> None:
    from wheeldesk_web.config import SETTINGS

    bearer = f"Bearer {SETTINGS.internal_api_token.get_secret_value()}"
    inside = client.get("/metrics", HTTP_AUTHORIZATION=bearer)
    assert inside.status_code == 200 and b"wheeldesk_web_sse_clients" in inside.content
    # Prometheus on the private network, under a Host name ALLOWED_HOSTS does not list
    private = Client(REMOTE_ADDR="172.18.0.5", HTTP_HOST="web:8000")
    assert private.get("/metrics", HTTP_AUTHORIZATION=bearer).status_code == 200
    assert private.get("/healthz").json()["status"] == "ok"
    # through the public proxy, or from a public address: 404, token or not
    relayed = client.get(
        "/metrics", HTTP_AUTHORIZATION=bearer, HTTP_X_FORWARDED_FOR="93.184.216.34"
    )
    assert relayed.status_code == 404
    public = Client(REMOTE_ADDR="93.184.216.34")
    assert public.get("/metrics", HTTP_AUTHORIZATION=bearer).status_code == 404
    # and a foreign Host from outside is still refused for everything else
    assert (
        Client(REMOTE_ADDR="93.184.216.34", HTTP_HOST="evil.example").get("/healthz").status_code
        == 400
    )


def test_settings_no_console_mail_no_implicit_localhost(tmp_path) -> None:
    """Production settings (DEMO_MODE=false, real secrets), read by a fresh interpreter."""
    import json
    import os
    import secrets
    import subprocess
    import sys

    env = {
        **os.environ,
        "DEMO_MODE": "false",
        "ALLOWED_HOSTS": "wheeldesk.example.com",
        "DJANGO_SECRET_KEY": secrets.token_hex(32),
        "INTERNAL_API_TOKEN": secrets.token_hex(32),
        "NATS_USER": "web",
        "NATS_PASSWORD": secrets.token_hex(32),
        "DATA_DIR": str(tmp_path),
    }
    code = (
        "import json, wheeldesk_web.settings as s;"
        "print(json.dumps([s.ALLOWED_HOSTS, s.EMAIL_BACKEND, s.DEBUG]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr[-2000:]
    hosts, backend, debug = json.loads(out.stdout.strip().splitlines()[-1])
    assert hosts == ["wheeldesk.example.com"]  # no implicit 127.0.0.1 / localhost
    assert backend == "wheeldesk_web.alerts.mail.NotifierEmailBackend" and debug is False


@pytest.mark.parametrize("raw", ["¹", "٣", "3x", "-3", " 3", "9" * 30])
def test_ids_in_the_query_are_ascii_digits_only(client, alice, raw: str) -> None:
    from wheeldesk_web.watchlist.models import Watchlist

    client.force_login(alice)
    Watchlist.objects.create(user=alice, name="Main", is_default=True)
    for path, name in (
        (reverse("watchlist:index"), "list"),
        (reverse("signals:list"), "scan"),
        (reverse("orders:new"), "signal"),
    ):
        answer = client.get(path, {name: raw})
        assert answer.status_code == 404, f"{path}?{name}={raw!r}: {answer.status_code}"


def snapshot() -> dict[str, dict]:
    """Every row a user's action could change. Not: sessions, and the `market` app, a cache of
    what IBKR answered (a stock page keeps the quote it fetched: a read of IBKR, not a change
    anyone asked for, and never an order action)."""
    return {
        model._meta.label: {obj.pk: model_to_dict(obj) for obj in model.objects.all()}
        for model in apps.get_models()
        if model is not Session and model._meta.app_label != "market"
    }


def test_no_get_changes_a_row(client, alice, bridge, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Safe HTTP (issue 19): a reload, a prefetch or a crawler writes nothing and calls no
    IBKR order action. Every URL, with the user's own draft, signal, watchlist and scan."""
    from wheeldesk_web.alerts.models import AlertPreferences
    from wheeldesk_web.orders.models import Order
    from wheeldesk_web.preferences.models import UserConfig
    from wheeldesk_web.signals.models import ScanRun, Signal
    from wheeldesk_web.watchlist.models import Watchlist, WatchlistItem

    monkeypatch.setattr("wheeldesk_web.signals.views.start_in_background", lambda *a, **k: None)
    client.force_login(alice)
    expiry = SIM_START.date() + timedelta(days=30)
    Order.objects.create(
        client_order_id="KO",
        user=alice,
        symbol="KO",
        expiry=expiry,
        strike=Decimal("60"),
        right="P",
        action="SELL",
        quantity=1,
        limit_price=Decimal("1.10"),
    )
    scan = ScanRun.objects.create(user=alice, status=ScanRun.DONE, symbols=["KO"])
    from django.db import models

    def filler(f):  # type: ignore[no-untyped-def]
        if f.has_default():
            return f.get_default()
        return 1 if isinstance(f, models.FloatField | models.IntegerField) else "x"

    Signal.objects.create(
        **{
            **{
                f.name: filler(f)
                for f in Signal._meta.concrete_fields
                if f.name not in {"id", "scan"} and not f.null
            },
            "scan": scan,
            "symbol": "KO",
            "kind": "CSP",
            "expiry": expiry,
            "strike": 60.0,
            "right": "P",
        }
    )
    watchlist = Watchlist.objects.create(user=alice, name="Main", is_default=True)
    WatchlistItem.objects.create(watchlist=watchlist, symbol="KO")
    UserConfig.for_user(alice)
    AlertPreferences.objects.get_or_create(user=alice)
    before = snapshot()
    query = {
        "signal": "1",
        "list": "1",
        "scan": "1",
        "symbol": "KO",
        "expiry": expiry.isoformat(),
        "strike": "60",
        "right": "P",
        "new_expiry": (expiry + timedelta(days=28)).isoformat(),
        "new_strike": "57.5",
    }
    walked = []
    for name, path in all_urls():
        if name in {"live:stream", "logout"} or name.startswith("admin:"):
            continue
        answer = client.get(path, query)
        assert answer.status_code < 500, f"GET {path}: {answer.status_code}"
        walked.append(name)
    assert {"orders:new", "orders:detail", "orders:status", "orders:roll"} <= set(walked)
    after = snapshot()
    changed = {
        label: sorted(
            set(after[label]) ^ set(rows) | {pk for pk in rows if after[label].get(pk) != rows[pk]}
        )
        for label, rows in before.items()
        if after[label] != rows
    }
    assert changed == {}, f"GETs changed rows: {changed}"
    assert bridge.place_calls == 0
