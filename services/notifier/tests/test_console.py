"""EMAIL_BACKEND=console (the demo): each email lands in the outbox as HTML + text."""

from __future__ import annotations

import json

from notifier.samples import SAMPLES

from .helpers import wait_status


def test_console_backend_writes_outbox_and_logs_one_line(start_notifier, api, tmp_path):
    outbox = tmp_path / "demo-outbox"
    proc = start_notifier(EMAIL_BACKEND="console", RESEND_API_KEY="", EMAIL_OUTBOX_DIR=str(outbox))
    client = api(proc)
    context = json.loads(json.dumps(SAMPLES["signal_digest"]))
    context["signals"][0]["symbol"] = "<script>alert('x')</script>"
    r = client.post(
        "/v1/emails",
        json={"to": ["demo@example.com"], "template": "signal_digest", "context": context},
    )
    assert r.status_code == 202, r.text
    email_id = r.json()["id"]
    status = wait_status(client, email_id, "sent")
    assert status["resend_id"] == f"console-{email_id}"

    html = (outbox / f"{email_id}.html").read_text()
    text = (outbox / f"{email_id}.txt").read_text()
    meta = json.loads((outbox / f"{email_id}.json").read_text())
    assert meta["to"] == ["demo@example.com"]
    assert meta["subject"] == "Wheeldesk: 3 new signals in Core watchlist"
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "https://wheeldesk.example.test/signals/101/" in html
    assert "APY (simple) 16.4%" in text
    lines = [line for line in proc.log_text().splitlines() if f"email {email_id} to" in line]
    assert len(lines) == 1
    assert "demo@example.com" in lines[0] and str(outbox) in lines[0]
