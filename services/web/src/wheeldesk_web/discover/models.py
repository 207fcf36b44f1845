"""Saved discoveries: a user's own IB market scan (scan code + filters) kept to run again."""

from __future__ import annotations

from django.conf import settings
from django.db import models

NAME_MAX = 80


class SavedDiscovery(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="discoveries"
    )
    name = models.CharField(max_length=NAME_MAX)
    scan_code = models.CharField(max_length=64)
    location = models.CharField(max_length=64, default="STK.US.MAJOR")
    filters = models.JSONField(default=dict, blank=True)
    rows = models.PositiveSmallIntegerField(default=20)
    on_schedule = models.BooleanField(
        default=False,
        help_text="The worker runs it once a trading day; new names get the wheel screen, "
        "whose new signals reach the email digest.",
    )
    created = models.DateTimeField(auto_now_add=True)
    last_run = models.DateTimeField(null=True, blank=True)
    last_symbols = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="unique_discovery_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.scan_code})"
