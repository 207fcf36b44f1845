"""A watchlist's own criteria over the user's Settings: edited and cleared on the watchlist
page (errors name the field, nothing is lost), and used by a scan of that list."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from wheeldesk.schemas.screener import Criteria
from wheeldesk_web.preferences.models import UserConfig
from wheeldesk_web.signals.services import ScanError, create_scan
from wheeldesk_web.watchlist.models import Watchlist, WatchlistItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():  # type: ignore[no-untyped-def]
    return get_user_model().objects.create_user("lists", "l@example.com", "s3cret-pass-123")


@pytest.fixture
def lists(user):  # type: ignore[no-untyped-def]
    core = Watchlist.objects.create(user=user, name="Core", is_default=True)
    WatchlistItem.objects.create(watchlist=core, symbol="KO")
    short = Watchlist.objects.create(user=user, name="Short puts")
    WatchlistItem.objects.create(watchlist=short, symbol="PEP")
    return core, short


@pytest.fixture
def client_in(client, user):  # type: ignore[no-untyped-def]
    client.force_login(user)
    return client


def test_a_list_saves_its_own_criteria_and_a_scan_of_it_uses_them(client_in, user, lists):
    core, short = lists
    page = client_in.get(f"/watchlist/?list={short.pk}").content.decode()
    # every field empty, the Settings' value as its placeholder
    assert 'id="criteria-form"' in page and 'placeholder="Settings: 7"' in page
    assert "your Settings’ (none of its own)" in page
    response = client_in.post(
        f"/watchlist/{short.pk}/criteria/",
        {"dte_min": "14", "dte_max": "21", "delta_max": "0.25", "cc_min_apy": ""},
    )
    assert response.status_code == 302 and response["Location"] == f"/watchlist/?list={short.pk}"
    short.refresh_from_db()
    assert short.criteria == {"dte_min": 14, "dte_max": 21, "delta_max": 0.25}
    page = client_in.get(response["Location"]).content.decode()
    assert "Short puts scans with its own criteria: Minimum DTE (days) 14" in page
    assert "its own: Minimum DTE (days) 14, Maximum DTE (days) 21, Maximum |delta| 0.25" in page

    # "Scan now" screens the default list: Core has none of its own -> the Settings'
    run = create_scan(user)
    assert run.symbols == ["KO"] and Criteria(**run.criteria) == Criteria()
    run.delete()
    # Short puts as the default list: its own over the Settings, the rest the Settings'
    UserConfig.objects.filter(pk=UserConfig.for_user(user).pk).update(min_apy=12.0)
    Watchlist.objects.filter(pk=core.pk).update(is_default=False)
    Watchlist.objects.filter(pk=short.pk).update(is_default=True)
    run = create_scan(user)
    used = Criteria(**run.criteria)
    assert run.symbols == ["PEP"]
    assert (used.dte_min, used.dte_max, used.delta_max) == (14, 21, 0.25)  # the list's
    assert (used.delta_min, used.min_apy, used.max_spread_pct) == (0.15, 12.0, 10.0)  # Settings'
    run.delete()
    # cleared: the Settings' again
    response = client_in.post(f"/watchlist/{short.pk}/criteria/clear/")
    assert response.status_code == 302
    short.refresh_from_db()
    assert short.criteria == {}
    assert Criteria(**create_scan(user).criteria).dte_min == 7


@pytest.mark.parametrize(
    ("posted", "field", "message"),
    [
        # 50 over the Settings' maximum DTE 45: the rule in the Settings page's words
        ({"dte_min": "50"}, "dte_max", "Minimum DTE must not exceed maximum DTE"),
        ({"delta_min": "0.3", "delta_max": "0.2"}, "delta_max", "must not exceed"),
        ({"delta_max": "1.5"}, "delta_max", "less than or equal to 1"),
        ({"min_apy": "lots"}, "min_apy", "Enter a number."),
        ({"dte_min": "-3"}, "dte_min", "greater than or equal to 0"),
    ],
)
def test_bad_criteria_are_refused_naming_the_field_and_lose_nothing(
    client_in, lists, posted, field, message
):  # type: ignore[no-untyped-def]
    _, short = lists
    response = client_in.post(f"/watchlist/{short.pk}/criteria/", {**posted, "min_premium": "0.25"})
    assert response.status_code == 400
    body = response.content.decode()
    error = body[body.index(f'id="id_{field}-error"') :]
    assert message in error[: error.index("</p>")]
    assert 'name="min_premium" value="0.25"' in body  # what was typed is still there
    [(name, value)] = [(k, v) for k, v in posted.items() if k != "delta_min"][:1]
    assert f'name="{name}" value="{value}"' in body
    short.refresh_from_db()
    assert short.criteria == {}  # nothing saved


def test_a_list_whose_criteria_no_longer_fit_the_settings_fails_the_scan_in_words(user, lists):
    core, _ = lists
    Watchlist.objects.filter(pk=core.pk).update(criteria={"dte_min": 40})
    UserConfig.objects.filter(pk=UserConfig.for_user(user).pk).update(dte_max=30)
    with pytest.raises(ScanError, match=r"Watchlist Core's own criteria no longer fit your "
                       r"Settings \(Minimum DTE must not exceed maximum DTE\)"):  # fmt: skip
        create_scan(user)


def test_another_users_list_is_not_found(client, lists):  # type: ignore[no-untyped-def]
    _, short = lists
    other = get_user_model().objects.create_user("other", "o@example.com", "s3cret-pass-123")
    client.force_login(other)
    assert client.post(f"/watchlist/{short.pk}/criteria/", {"dte_min": "10"}).status_code == 404
    assert client.post(f"/watchlist/{short.pk}/criteria/clear/").status_code == 404
