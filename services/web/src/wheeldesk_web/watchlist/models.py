"""Watchlists: a user keeps several; the default one is what the next scan screens, with
the list's own criteria over the user's Settings where it has any."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from wheeldesk.schemas.screener import Criteria

NOTES_MAX = 2000


class Watchlist(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watchlists"
    )
    name = models.CharField(max_length=60)
    is_default = models.BooleanField(default=False, help_text="Scanned by 'Scan now'.")
    criteria = models.JSONField(
        default=dict,
        blank=True,
        help_text="This list's own screening criteria (only the ones set), over the user's "
        "Settings when the list is scanned; empty: the Settings' criteria.",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="unique_watchlist_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    def symbols(self) -> list[str]:
        return list(self.items.order_by("symbol").values_list("symbol", flat=True))

    def criteria_over(self, base: Criteria) -> Criteria:
        """The criteria a scan of this list uses: `base` (the user's Settings) with the
        list's own on top. Raises pydantic's ValidationError when the two no longer make a
        valid set (Settings changed since the list's were saved), naming the field."""
        own: dict[str, Any] = self.criteria or {}
        if not own:
            return base
        return Criteria(**(base.model_dump() | own))


class WatchlistItem(models.Model):
    watchlist = models.ForeignKey(Watchlist, on_delete=models.CASCADE, related_name="items")
    symbol = models.CharField(max_length=12)
    notes = models.TextField(blank=True, max_length=NOTES_MAX)
    added = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.UniqueConstraint(fields=["watchlist", "symbol"], name="unique_watchlist_symbol")
        ]

    def __str__(self) -> str:
        return self.symbol
