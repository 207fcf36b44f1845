"""A user's screening criteria, notification preferences and scan schedule.

The criteria fields mirror `wheeldesk.schemas.screener.Criteria` one to one (a test checks
it) and take the screener's defaults, so a new user scans exactly as the screener would.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from wheeldesk.schemas.screener import Criteria

CRITERIA_FIELDS = list(Criteria.model_fields)
TIERS = [("A", "A only"), ("B", "A and B"), ("C", "every tier")]


def _default(name: str) -> Any:
    return Criteria.model_fields[name].default


def validate_scan_times(value: str) -> None:
    for part in filter(None, (p.strip() for p in value.split(","))):
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", part):
            raise ValidationError(f"{part!r} is not a time like 09:45")


class UserConfig(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wheel_config"
    )
    # fundamentals
    min_roe = models.FloatField(null=True, blank=True, default=_default("min_roe"))
    require_positive_fcf = models.BooleanField(default=_default("require_positive_fcf"))
    max_beta = models.FloatField(null=True, blank=True, default=_default("max_beta"))
    min_price = models.FloatField(null=True, blank=True, default=_default("min_price"))
    max_price = models.FloatField(null=True, blank=True, default=_default("max_price"))
    min_market_cap = models.FloatField(null=True, blank=True, default=_default("min_market_cap"))
    # option filters
    dte_min = models.PositiveIntegerField(default=_default("dte_min"))
    dte_max = models.PositiveIntegerField(default=_default("dte_max"))
    delta_min = models.FloatField(default=_default("delta_min"))
    delta_max = models.FloatField(default=_default("delta_max"))
    min_iv = models.FloatField(null=True, blank=True, default=_default("min_iv"))
    min_iv_rank = models.FloatField(null=True, blank=True, default=_default("min_iv_rank"))
    min_open_interest = models.PositiveIntegerField(default=_default("min_open_interest"))
    max_spread_pct = models.FloatField(default=_default("max_spread_pct"))
    min_premium = models.FloatField(default=_default("min_premium"))
    min_apy = models.FloatField(default=_default("min_apy"))
    max_collateral = models.FloatField(null=True, blank=True, default=_default("max_collateral"))
    earnings = models.CharField(
        max_length=8,
        default=_default("earnings"),
        choices=[("exclude", "exclude"), ("flag", "flag"), ("ignore", "ignore")],
    )
    premium_basis = models.CharField(
        max_length=3, default=_default("premium_basis"), choices=[("bid", "bid"), ("mid", "mid")]
    )
    cc_min_strike_vs_basis = models.BooleanField(default=_default("cc_min_strike_vs_basis"))
    # covered calls' own window, band and yield (empty: the same as the puts')
    cc_dte_min = models.PositiveIntegerField(null=True, blank=True, default=None)
    cc_dte_max = models.PositiveIntegerField(null=True, blank=True, default=None)
    cc_delta_min = models.FloatField(null=True, blank=True, default=None)
    cc_delta_max = models.FloatField(null=True, blank=True, default=None)
    cc_min_apy = models.FloatField(null=True, blank=True, default=None)
    # roll / close
    take_profit_pct = models.FloatField(default=_default("take_profit_pct"))
    roll_dte = models.PositiveIntegerField(default=_default("roll_dte"))
    max_signals_per_symbol = models.PositiveIntegerField(default=_default("max_signals_per_symbol"))
    # notifications
    notify_email = models.BooleanField(default=False)
    notify_address = models.EmailField(blank=True)
    notify_min_tier = models.CharField(max_length=1, default="A", choices=TIERS)
    notify_fills = models.BooleanField(default=True)
    # scan schedule (US/Eastern, market days)
    scan_enabled = models.BooleanField(default=False)
    scan_times = models.CharField(
        max_length=100, default="09:45,15:30", blank=True, validators=[validate_scan_times]
    )
    scan_weekdays_only = models.BooleanField(default=True)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"settings of {self.user}"

    @classmethod
    def for_user(cls, user: Any) -> UserConfig:
        config, _ = cls.objects.get_or_create(user=user)
        return config

    def criteria(self) -> Criteria:
        """The screener's request model built from this row (validated the screener's way)."""
        return Criteria(**{name: getattr(self, name) for name in CRITERIA_FIELDS})

    def scan_time_list(self) -> list[str]:
        return [p.strip() for p in self.scan_times.split(",") if p.strip()]

    def email_to(self) -> str:
        return self.notify_address or getattr(self.user, "email", "")
