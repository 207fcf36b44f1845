"""Templates: every one renders from its sample, escapes, and refuses a missing value."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
from notifier.delivery import backoff
from notifier.render import TEMPLATES, RenderError, render
from notifier.samples import SAMPLES

WEB = "https://wd.example.test"


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_renders_subject_html_and_text(name):
    out = render(name, SAMPLES[name], web_url=WEB)
    assert out.subject and "\n" not in out.subject
    assert out.html.startswith("<!doctype html>")
    assert 'name="viewport"' in out.html  # readable on a phone
    assert "max-width:600px" in out.html
    assert out.text.strip() and "<" not in out.text.replace("<script", "")


def test_signal_digest_numbers_tiers_and_links():
    out = render("signal_digest", SAMPLES["signal_digest"], web_url=WEB + "/")
    for expected in ("16.4%", "84%", "14.1%", "$0.62", "60P", "235C", "10.5P", "19 Dec 2026"):
        assert expected in out.html, expected
    assert f"{WEB}/signals/101/" in out.html and f"{WEB}/signals/103/" in out.text
    assert "#dcfce7" in out.html and "#fef3c7" in out.html and "#fee2e2" in out.html
    assert "[A] CSP KO 60P exp 19 Dec 2026 (23 DTE)" in out.text


def test_signal_digest_labels_and_a_close_without_apy():
    ctx = copy.deepcopy(SAMPLES["signal_digest"])
    ctx["signals"][0] |= {"kind": "CLOSE", "apy": None}  # a buy-back has no APY
    out = render("signal_digest", ctx, web_url=WEB)
    assert "APY (simple)" in out.html and "P(OTM)" in out.html and "POP" not in out.html
    assert "APY (simple) — · P(OTM) 84%" in out.text
    assert "cost to close $" in out.text and "cost to close $" in out.html
    # the footnote says what a covered call's APY is measured on: the cost basis
    assert "for a covered call (CC) the shares' cost basis" in out.html
    assert "share price (CC)" not in out.html


def test_daily_summary_money_and_sign():
    out = render("daily_summary", SAMPLES["daily_summary"], web_url=WEB)
    assert out.subject == "Wheeldesk daily summary 26 Nov 2026: net liq $104,250.37"
    assert "Premium collected this month: $744.50" in out.text
    assert "-$412.50" in out.html and "#991b1b" in out.html


def test_order_filled_marks_live_accounts():
    live = {**SAMPLES["order_filled"], "paper": False, "account_id": "U7654321"}
    out = render("order_filled", live, web_url=WEB)
    assert out.subject.endswith("(LIVE)")
    assert "LIVE account" in out.html
    assert "(LIVE)" not in render("order_filled", SAMPLES["order_filled"], web_url=WEB).subject


def test_html_is_autoescaped_text_is_not():
    ctx = {**SAMPLES["password_reset"], "username": '<script>alert("pwn")</script>'}
    out = render("password_reset", ctx, web_url=WEB)
    assert "<script>" not in out.html
    assert "&lt;script&gt;alert(&#34;pwn&#34;)&lt;/script&gt;" in out.html
    assert '<script>alert("pwn")</script>' in out.text


def test_missing_top_level_value_names_it():
    ctx = dict(SAMPLES["connection_lost"])
    del ctx["since"]
    with pytest.raises(RenderError) as err:
        render("connection_lost", ctx, web_url=WEB)
    assert err.value.field == "context.since"
    assert err.value.message == "template connection_lost: context is missing the value 'since'"


def test_missing_nested_value_is_an_error_not_a_blank():
    ctx = copy.deepcopy(SAMPLES["signal_digest"])
    del ctx["signals"][2]["apy"]
    with pytest.raises(RenderError) as err:
        render("signal_digest", ctx, web_url=WEB)
    assert "'apy'" in err.value.message
    assert err.value.field == "context"


def test_wrong_type_is_a_render_error():
    ctx = {**SAMPLES["order_filled"], "avg_price": "a lot"}
    with pytest.raises(RenderError) as err:
        render("order_filled", ctx, web_url=WEB)
    assert "bad context value" in err.value.message


def test_backoff_doubles_caps_and_honours_retry_after():
    assert 0.8 <= backoff(1, 1.0, 60) <= 1.2
    assert 3.2 <= backoff(3, 1.0, 60) <= 4.8
    assert backoff(20, 1.0, 60) <= 72
    assert backoff(1, 1.0, 60, retry_after=30) == 30


def test_render_cli_writes_a_preview(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "notifier",
            "render",
            "daily_summary",
            "--sample",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "WEB_PUBLIC_URL": WEB},
    )
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "daily_summary.html").read_text()
    assert "$104,250.37" in html and f"{WEB}/ledger/" in html
    assert (tmp_path / "daily_summary.txt").read_text().startswith("Subject: Wheeldesk daily")
    assert result.stdout.strip() == str(tmp_path / "daily_summary.html")


def test_settings_refuse_resend_without_a_key():
    result = subprocess.run(
        [sys.executable, "-m", "notifier"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "EMAIL_BACKEND": "resend", "RESEND_API_KEY": ""},
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "configuration error: RESEND_API_KEY is required when EMAIL_BACKEND=resend"
    )


def test_settings_outside_demo_mode_need_a_chosen_backend():
    """No silent console default in production: mail would be kept on disk, never sent."""
    strong = {
        "DEMO_MODE": "false",
        "INTERNAL_API_TOKEN": "t" * 40,
        "NATS_USER": "notifier",
        "NATS_PASSWORD": "p" * 40,
    }
    result = subprocess.run(
        [sys.executable, "-m", "notifier"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **strong},
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "configuration error: EMAIL_BACKEND must be set when DEMO_MODE=false: resend to send"
        " mail, or console to keep it in EMAIL_OUTBOX_DIR"
    )


def test_cycle_event_says_what_happened_to_the_cycle_with_its_link():
    out = render("cycle_event", SAMPLES["cycle_event"], web_url=WEB)
    assert out.subject == "Assigned: KO 2026-12-18 60P — 100 shares bought at $60.00"
    assert "100 KO shares bought at $60.00 ($6,000.00)" in out.text
    assert "KO wheel cycle: Holding shares" in out.text
    assert "Premium so far: $62.00" in out.text and "Cost basis: $59.38 a share" in out.text
    assert "Next: shares assigned — sell a covered call?" in out.text
    assert f"{WEB}/ledger/cycles/KO-2026-11-26/" in out.text
    assert f'href="{WEB}/ledger/cycles/KO-2026-11-26/"' in out.html
    bare = {k: v for k, v in SAMPLES["cycle_event"].items() if k != "cycle"}
    assert f"{WEB}/ledger/" in render("cycle_event", bare, web_url=WEB).text


def test_a_filled_roll_says_rolled_and_its_net_credit():
    roll = {
        **SAMPLES["order_filled"],
        "roll": True,
        "action": "BUY",
        "description": "KO roll 2026-12-18 60P -> 2027-01-15 57.5P",
        "avg_price": -0.70,
        "premium": 70.0,
    }
    out = render("order_filled", roll, web_url=WEB)
    assert out.subject.startswith("Rolled: BUY 1 KO roll")
    assert "Net credit received: $70.00" in out.text and "Premium received" not in out.text
    assert "Net credit received" in out.html
