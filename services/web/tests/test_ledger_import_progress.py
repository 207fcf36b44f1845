"""A Flex report of more than one batch is stored in the background and its progress shown.

The request reads and checks the file, answers at once and leaves a `FlexImport` row; the
ledger page shows "N of M trades stored" and polls it; once stored, the poll sends the page
back to the ledger with the outcome. Here the background thread is replaced by the same
`imports.run` called step by step, so each state can be looked at. (tests/e2e/
test_large_import.py does it on the real stack with a 16 MB file and the real thread.)
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from wheeldesk_web.ledger import imports, services
from wheeldesk_web.ledger.models import Execution, FlexImport

pytestmark = pytest.mark.django_db

ROW = (
    '<Trade accountId="U1" assetCategory="STK" symbol="{sym}" dateTime="{day:%Y%m%d};100000" '
    'quantity="{qty}" tradePrice="50" buySell="{side}" ibExecID="e{n}" '
    'levelOfDetail="EXECUTION"/>'
)


def report(rows: int) -> bytes:
    """`rows` executions of two tickers, a buy and a sell of 10 shares a day (fixed dates)."""
    first = date(2024, 1, 2)
    trades = "".join(
        ROW.format(
            sym="KO" if n % 4 < 2 else "PEP",
            day=first + timedelta(days=n // 4),
            qty=10 if n % 2 == 0 else -10,
            side="BUY" if n % 2 == 0 else "SELL",
            n=n,
        )
        for n in range(rows)
    )
    return (
        '<FlexQueryResponse><FlexStatements><FlexStatement accountId="U1"><Trades>'
        f"{trades}</Trades></FlexStatement></FlexStatements></FlexQueryResponse>"
    ).encode()


@pytest.fixture
def user_client(client):  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user("imp", "i@example.com", "pw-123456-xyz")
    client.force_login(user)
    return client


@pytest.fixture
def upload(user_client, monkeypatch):  # type: ignore[no-untyped-def]
    """Post a 250-trade report (batches of 100) as the ledger page does: the answer and the
    background run it handed over, (pk, records), stored only when the test runs it."""
    monkeypatch.setattr(services, "BATCH", 100)
    handed: list[tuple[int, list]] = []
    monkeypatch.setattr(imports, "start_in_background", lambda *run: handed.append(run))

    def post(name: str = "h.xml"):  # type: ignore[no-untyped-def]
        file = SimpleUploadedFile(name, report(250), "text/xml")
        answer = user_client.post(reverse("ledger:import"), {"file": file})
        assert answer.status_code == 302
        pk, records = handed[-1]
        return answer, pk, records

    return post


def test_a_large_import_shows_its_progress_then_its_outcome(
    user_client, upload, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    answer, pk, records = upload("history.xml")
    assert answer["Location"].endswith(f"?import={pk}")
    assert Execution.objects.count() == 0  # nothing stored by the request itself
    page = user_client.get(answer["Location"]).content.decode()
    assert 'id="flex-progress"' in page and "history.xml" in page
    assert _count(page) == (0, 250)

    # two batches in: the poll says so, and polls again
    seen: list[tuple[int, int]] = []
    real_progress = services.record_fills

    def stepped(*args, **kwargs):  # type: ignore[no-untyped-def]
        hook = kwargs["progress"]

        def look(done: int, stage: str) -> None:
            hook(done, stage)
            if done == 200 and stage == "storing trades":
                poll = user_client.get(reverse("ledger:import_progress", args=[pk]))
                assert 'hx-trigger="load delay:1s"' in poll.content.decode()
                seen.append(_count(poll.content.decode()))

        return real_progress(*args, **{**kwargs, "progress": look})

    monkeypatch.setattr(services, "record_fills", stepped)
    imports.run(pk, records)
    assert seen == [(200, 250)]

    # done: the poll sends the page back to the ledger, which says what was stored
    done = user_client.get(reverse("ledger:import_progress", args=[pk]), HTTP_HX_REQUEST="true")
    assert done["HX-Redirect"] == reverse("ledger:cycles")
    ledger = user_client.get(reverse("ledger:cycles")).content.decode()
    assert "Imported 250 new trade(s) of 250 in the file (0 known)." in ledger
    assert 'id="flex-progress"' not in ledger
    assert Execution.objects.count() == 250
    row = FlexImport.objects.get(pk=pk)
    assert (row.status, row.total, row.processed, row.added) == ("done", 250, 250, 250)


def test_a_stopped_import_says_how_far_it_got_and_how_to_finish(
    user_client, upload, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    _, pk, records = upload()
    real_rebuild = services.rebuild

    def disk_full(symbols=None):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(services, "rebuild", disk_full)
    imports.run(pk, records)
    monkeypatch.setattr(services, "rebuild", real_rebuild)
    page = user_client.get(reverse("ledger:import_progress", args=[pk]), follow=True)
    text = page.content.decode()
    assert "Import failed: stopped after 250 of 250 trades (disk full)" in text
    assert "import the file again to complete it" in text
    # and so it does: the stored trades are recognised, the cycles rebuilt
    _, pk2, records2 = upload()
    imports.run(pk2, records2)
    row = FlexImport.objects.get(pk=pk2)
    assert (row.status, row.added, Execution.objects.count()) == ("done", 0, 250)


class _ProcessStopped(BaseException):
    """What the import thread sees when its process stops: nothing it catches."""


def test_an_import_whose_process_stopped_is_failed_saying_how_far_it_got(
    user_client, upload, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    _, pk, records = upload()
    real_record_fills = services.record_fills

    def dies_after_two_batches(*args, **kwargs):  # type: ignore[no-untyped-def]
        hook = kwargs["progress"]

        def look(done: int, stage: str) -> None:
            hook(done, stage)
            if done == 200:
                raise _ProcessStopped

        return real_record_fills(*args, **{**kwargs, "progress": look})

    monkeypatch.setattr(services, "record_fills", dies_after_two_batches)
    with pytest.raises(_ProcessStopped):
        imports.run(pk, records)
    row = FlexImport.objects.get(pk=pk)
    assert (row.status, row.processed) == ("running", 200)

    # Within STALE_AFTER of its last batch it may still be alive: the page keeps polling.
    assert _count(user_client.get(reverse("ledger:cycles")).content.decode()) == (200, 250)
    assert imports.abandon_stale(now=row.heartbeat + imports.STALE_AFTER) == 0

    # Silent for longer: the ledger page stops showing it and says what happened.
    FlexImport.objects.filter(pk=pk).update(
        heartbeat=row.heartbeat - imports.STALE_AFTER - timedelta(seconds=1)
    )
    ledger = user_client.get(reverse("ledger:cycles")).content.decode()
    assert 'id="flex-progress"' not in ledger
    page = user_client.get(reverse("ledger:import_progress", args=[pk]), follow=True)
    text = page.content.decode()
    assert (
        "Import failed: stopped after 200 of 250 trades (the web server restarted during the "
        "import); import the file again to complete it" in text
    )
    row = FlexImport.objects.get(pk=pk)
    assert (row.status, row.processed, row.finished is not None) == ("failed", 200, True)
    assert Execution.objects.count() == 200  # the two batches stored stay stored

    # importing again completes it
    monkeypatch.setattr(services, "record_fills", real_record_fills)
    _, pk2, records2 = upload()
    imports.run(pk2, records2)
    again = FlexImport.objects.get(pk=pk2)
    assert (again.status, again.added, Execution.objects.count()) == ("done", 50, 250)


def _count(html: str) -> tuple[int, int]:
    import re

    done = re.search(r'id="flex-processed">(\d+)<', html)
    total = re.search(r'id="flex-total">(\d+)<', html)
    assert done and total, html[:500]
    return int(done[1]), int(total[1])
