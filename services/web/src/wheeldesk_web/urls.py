from django.contrib import admin
from django.urls import include, path

from wheeldesk_web.core.views import ThrottledPasswordResetView

urlpatterns = [
    path("admin/", admin.site.urls),
    # Before Django's own: the same URL name, throttled.
    path(
        "accounts/password_reset/",
        ThrottledPasswordResetView.as_view(),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("stocks/", include("wheeldesk_web.market.urls")),
    path("watchlist/", include("wheeldesk_web.watchlist.urls")),
    path("signals/", include("wheeldesk_web.signals.urls")),
    path("settings/", include("wheeldesk_web.preferences.urls")),
    path("live/", include("wheeldesk_web.live.urls")),
    path("orders/", include("wheeldesk_web.orders.urls")),
    path("ledger/", include("wheeldesk_web.ledger.urls")),
    path("alerts/", include("wheeldesk_web.alerts.urls")),
    path("discover/", include("wheeldesk_web.discover.urls")),
    path("", include("wheeldesk_web.core.urls")),
    path("", include("wheeldesk_web.dashboard.urls")),
]
