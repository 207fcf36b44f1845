"""Scan runs, the signals they produced (numbers stored verbatim from the screener) and the
rejections behind the "why not" list."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db import models

KINDS = [("CSP", "cash-secured put"), ("CC", "covered call"), ("ROLL", "roll"), ("CLOSE", "close")]
TIERS = [("A", "A"), ("B", "B"), ("C", "C")]


class ScanRun(models.Model):
    RUNNING, DONE, FAILED = "running", "done", "failed"
    STATUSES = [(RUNNING, "running"), (DONE, "done"), (FAILED, "failed")]
    TRIGGERS = [("manual", "Scan now"), ("schedule", "schedule"), ("command", "manage.py scan")]

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="scan_runs",
    )
    scan_id = models.CharField(max_length=64, blank=True, help_text="The screener's scan id.")
    trigger = models.CharField(max_length=10, choices=TRIGGERS, default="manual")
    status = models.CharField(max_length=8, choices=STATUSES, default=RUNNING, db_index=True)
    progress = models.CharField(max_length=200, blank=True)
    started = models.DateTimeField(auto_now_add=True, db_index=True)
    finished = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    criteria = models.JSONField(default=dict, blank=True)
    symbols = models.JSONField(default=list, blank=True)
    held_symbols = models.JSONField(
        default=list,
        blank=True,
        help_text="Scanned because the account holds them (stock or short options), "
        "though not asked for (not on the watchlist).",
    )
    signal_count = models.PositiveIntegerField(default=0)
    rejection_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started"]

    def __str__(self) -> str:
        return f"scan {self.pk} {self.started:%Y-%m-%d %H:%M} {self.status}"


class Rejection(models.Model):
    """One "why not": a symbol or contract a rule turned away (or an error fetching it)."""

    scan = models.ForeignKey(ScanRun, on_delete=models.CASCADE, related_name="rejections")
    symbol = models.CharField(max_length=12, db_index=True)
    rule = models.CharField(max_length=60)
    message = models.CharField(max_length=500)
    contract = models.CharField(max_length=60, blank=True)
    is_error = models.BooleanField(default=False)

    class Meta:
        ordering = ["symbol", "rule"]

    def __str__(self) -> str:
        return f"{self.symbol}: {self.rule}"


class Signal(models.Model):
    NEW, SEEN, ORDERED, DISMISSED = "new", "seen", "ordered", "dismissed"
    FILLED, CANCELLED = "filled", "cancelled"
    STATUSES = [
        (NEW, "new"),
        (SEEN, "seen"),
        (ORDERED, "ordered"),
        (FILLED, "filled"),
        (CANCELLED, "order cancelled"),
        (DISMISSED, "dismissed"),
    ]
    # What a user may mark by hand ("ordered": placed in TWS); filled / cancelled only ever
    # follow an order drafted from the signal (`services.follow_order`).
    MANUAL_STATUSES = [(NEW, "new"), (SEEN, "seen"), (ORDERED, "ordered"), (DISMISSED, "dismissed")]

    scan = models.ForeignKey(ScanRun, on_delete=models.CASCADE, related_name="signals")
    status = models.CharField(max_length=10, choices=STATUSES, default=NEW, db_index=True)
    kind = models.CharField(max_length=5, choices=KINDS, db_index=True)
    symbol = models.CharField(max_length=12, db_index=True)
    # contract
    expiry = models.DateField()
    strike = models.FloatField()
    right = models.CharField(max_length=1, choices=[("P", "put"), ("C", "call")])
    multiplier = models.PositiveIntegerField(default=100)
    conid = models.BigIntegerField(null=True, blank=True)
    # the screener's numbers, verbatim
    premium_basis = models.CharField(
        max_length=3, default="bid", help_text="bid/mid for a sale, ask/mid for a CLOSE."
    )
    premium = models.FloatField(help_text="Per share, USD (CLOSE: the cost to close).")
    collateral = models.FloatField()
    quantity = models.PositiveIntegerField(
        default=1,
        help_text="Contracts: CC the uncovered lots, CSP 1, ROLL/CLOSE the contracts held.",
    )
    yield_pct = models.FloatField(null=True, blank=True, help_text="%; none for a CLOSE.")
    apy = models.FloatField(
        null=True, blank=True, db_index=True, help_text="Simple annualised, %; none for CLOSE."
    )
    apy_compounded = models.FloatField(null=True, blank=True, help_text="%.")
    pop = models.FloatField(
        null=True, blank=True, help_text="P(OTM): probability OTM at expiry, %."
    )
    prob_profit = models.FloatField(
        null=True, blank=True, help_text="P(profit): S_T beyond the breakeven, %."
    )
    abs_delta = models.FloatField(null=True, blank=True)
    breakeven = models.FloatField(null=True, blank=True)
    expected_move = models.FloatField(null=True, blank=True)
    distance_pct = models.FloatField()
    distance_em = models.FloatField(null=True, blank=True)
    spread_pct = models.FloatField(null=True, blank=True)
    open_interest = models.FloatField(null=True, blank=True)
    volume = models.FloatField(null=True, blank=True)
    iv = models.FloatField(null=True, blank=True)
    iv_rank = models.FloatField(null=True, blank=True)
    iv_percentile = models.FloatField(null=True, blank=True)
    dte = models.IntegerField()
    underlying_price = models.FloatField()
    if_called_return = models.FloatField(null=True, blank=True)
    net_credit = models.FloatField(null=True, blank=True)
    cost_basis = models.FloatField(null=True, blank=True)
    cost_basis_source = models.CharField(
        max_length=12, blank=True, help_text="ledger (premium-adjusted) or ib_avg_cost."
    )
    ib_avg_cost = models.FloatField(null=True, blank=True)
    # ROLL / CLOSE
    captured_pct = models.FloatField(null=True, blank=True)
    premium_received = models.FloatField(null=True, blank=True)
    cost_to_close = models.FloatField(null=True, blank=True)
    close_basis = models.CharField(max_length=3, blank=True)
    remaining_per_day = models.FloatField(null=True, blank=True)
    added_days = models.IntegerField(null=True, blank=True)
    roll_from = models.JSONField(null=True, blank=True, help_text="ROLL: the option bought back.")
    skipped = models.JSONField(
        default=list, blank=True, help_text="Missing inputs and the rules skipped for them."
    )
    pricing_model = models.CharField(max_length=10, blank=True)
    bid = models.FloatField(null=True, blank=True)
    ask = models.FloatField(null=True, blank=True)
    fundamentals = models.JSONField(default=dict, blank=True)
    earnings_before_expiry = models.BooleanField(default=False)
    score = models.FloatField()
    tier = models.CharField(max_length=1, choices=TIERS, db_index=True)
    next_tier = models.CharField(
        max_length=1, choices=TIERS, blank=True, help_text="The tier above (blank at A)."
    )
    points_to_next_tier = models.FloatField(
        null=True, blank=True, help_text="Score points short of the next tier's threshold."
    )
    next_tier_note = models.CharField(
        max_length=300,
        blank=True,
        help_text="The gap in words and which single number would close it (the screener's).",
    )
    reasons = models.JSONField(default=list, blank=True, help_text="The 'why', in words.")
    quote_ts = models.DateTimeField(null=True, blank=True)
    market_data_type = models.CharField(max_length=16, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-score"]

    def __str__(self) -> str:
        return f"{self.kind} {self.contract_key} ({self.tier})"

    @property
    def contract_key(self) -> str:
        return f"{self.symbol} {self.expiry.isoformat()} {self.strike:g}{self.right}"

    @property
    def roll_from_key(self) -> str:
        c = self.roll_from or {}
        if not c:
            return ""
        return f"{c.get('symbol', self.symbol)} {c.get('expiry')} {float(c.get('strike', 0)):g}{c.get('right', '')}"

    def _fundamental_date(self, key: str) -> date | None:
        raw = (self.fundamentals or {}).get(key)
        try:
            return date.fromisoformat(raw) if raw else None
        except (TypeError, ValueError):
            return None

    @property
    def earnings_date(self) -> date | None:
        """The next earnings date IB reported for the stock when the scan ran."""
        return self._fundamental_date("next_earnings")

    @property
    def ex_dividend_date(self) -> date | None:
        return self._fundamental_date("ex_dividend")

    def _before_expiry(self, day: date | None) -> bool:
        """From the scan's day (expiry - DTE) to the expiry: inside the option's life."""
        if day is None:
            return False
        return self.expiry - timedelta(days=max(self.dte, 0)) <= day <= self.expiry

    @property
    def earnings_marker(self) -> bool:
        return self.earnings_before_expiry or self._before_expiry(self.earnings_date)

    @property
    def ex_dividend_marker(self) -> bool:
        """An ex-dividend date before expiry: a short call may be assigned early for it."""
        return self._before_expiry(self.ex_dividend_date)

    @property
    def is_sale(self) -> bool:
        """CSP, CC and ROLL sell an option; a CLOSE only buys one back."""
        return self.kind != "CLOSE"
