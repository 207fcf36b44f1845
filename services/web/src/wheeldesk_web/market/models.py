"""Market data kept in SQLite: the last known stock and option quotes, with their age and type.

The bridge is the source of truth; these rows let pages render (and say how old they are)
while the bridge is down, and feed the stock chart and chain pages.
"""

from __future__ import annotations

from django.db import models

DATA_TYPES = [
    ("live", "live"),
    ("frozen", "frozen"),
    ("delayed", "delayed"),
    ("delayed-frozen", "delayed-frozen"),
]
RIGHTS = [("P", "put"), ("C", "call")]


class Stock(models.Model):
    symbol = models.CharField(max_length=12, unique=True)
    name = models.CharField(max_length=120, blank=True)
    sector = models.CharField(max_length=80, blank=True)
    conid = models.BigIntegerField(null=True, blank=True)
    price = models.FloatField(null=True, blank=True)
    bid = models.FloatField(null=True, blank=True)
    ask = models.FloatField(null=True, blank=True)
    close = models.FloatField(null=True, blank=True)
    market_data_type = models.CharField(max_length=16, choices=DATA_TYPES, default="live")
    quote_ts = models.DateTimeField(null=True, blank=True)
    beta = models.FloatField(null=True, blank=True)
    roe = models.FloatField(null=True, blank=True, help_text="Return on equity, %.")
    free_cash_flow = models.FloatField(null=True, blank=True, help_text="USD.")
    market_cap = models.FloatField(null=True, blank=True, help_text="USD.")
    dividend_yield = models.FloatField(null=True, blank=True, help_text="%.")
    pe_ratio = models.FloatField(null=True, blank=True)
    next_earnings = models.DateField(null=True, blank=True)
    simulated = models.BooleanField(default=False)
    history = models.JSONField(default=list, blank=True, help_text="Daily [date, close] pairs.")
    history_updated = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol


class Option(models.Model):
    symbol = models.CharField(max_length=12, db_index=True)
    expiry = models.DateField()
    strike = models.FloatField()
    right = models.CharField(max_length=1, choices=RIGHTS)
    multiplier = models.PositiveIntegerField(default=100)
    conid = models.BigIntegerField(null=True, blank=True)
    bid = models.FloatField(null=True, blank=True)
    ask = models.FloatField(null=True, blank=True)
    last = models.FloatField(null=True, blank=True)
    volume = models.FloatField(null=True, blank=True)
    open_interest = models.FloatField(null=True, blank=True)
    iv = models.FloatField(null=True, blank=True)
    delta = models.FloatField(null=True, blank=True)
    gamma = models.FloatField(null=True, blank=True)
    theta = models.FloatField(null=True, blank=True)
    vega = models.FloatField(null=True, blank=True)
    underlying_price = models.FloatField(null=True, blank=True)
    greeks_source = models.CharField(max_length=8, default="ib")
    market_data_type = models.CharField(max_length=16, choices=DATA_TYPES, default="live")
    quote_ts = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol", "expiry", "right", "strike"]
        constraints = [
            models.UniqueConstraint(
                fields=["symbol", "expiry", "strike", "right"], name="unique_option_contract"
            )
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.expiry.isoformat()} {self.strike:g}{self.right}"


class AccountSnapshot(models.Model):
    """The last account and positions the bridge reported: the dashboard's fallback."""

    account_id = models.CharField(max_length=32, unique=True)
    account = models.JSONField(default=dict)
    positions = models.JSONField(default=list)
    taken = models.DateTimeField()

    class Meta:
        ordering = ["-taken"]

    def __str__(self) -> str:
        return f"{self.account_id} @ {self.taken:%Y-%m-%d %H:%M}"
