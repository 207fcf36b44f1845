"""Executions (as IB reported them), manual adjustments, and the cycles built from them."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from wheeldesk_web.ledger.cycles import LedgerEvent

MONEY = {"max_digits": 16, "decimal_places": 4}


class Execution(models.Model):
    """One fill, kept verbatim: the ledger's source of truth (never edited by hand)."""

    SOURCES = [("nats", "live (NATS)"), ("bridge", "bridge backfill"), ("flex", "Flex import")]
    KINDS = [
        ("trade", "trade"),
        ("assignment", "assignment"),
        ("exercise", "exercise"),
        ("expiration", "expiration"),
    ]

    exec_id = models.CharField(max_length=80, unique=True)
    order_id = models.BigIntegerField(null=True, blank=True)
    perm_id = models.BigIntegerField(null=True, blank=True)
    client_order_id = models.CharField(max_length=64, blank=True, db_index=True)
    account_id = models.CharField(max_length=32, blank=True)
    time = models.DateTimeField(db_index=True)
    symbol = models.CharField(max_length=12, db_index=True)
    sec_type = models.CharField(max_length=3, choices=[("STK", "stock"), ("OPT", "option")])
    expiry = models.DateField(null=True, blank=True)
    strike = models.DecimalField(null=True, blank=True, **MONEY)
    right = models.CharField(max_length=1, blank=True, choices=[("P", "put"), ("C", "call")])
    multiplier = models.PositiveIntegerField(default=1)
    side = models.CharField(max_length=3, choices=[("BOT", "bought"), ("SLD", "sold")])
    quantity = models.DecimalField(**MONEY)
    price = models.DecimalField(**MONEY)
    commission = models.DecimalField(null=True, blank=True, **MONEY)
    realized_pnl = models.DecimalField(null=True, blank=True, **MONEY)
    exchange = models.CharField(max_length=16, blank=True)
    kind = models.CharField(max_length=12, choices=KINDS, default="trade")
    source = models.CharField(max_length=8, choices=SOURCES, default="nats")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-time"]

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d} {self.side} {self.quantity} {self.contract}"

    @property
    def contract(self) -> str:
        if self.sec_type == "OPT":
            return f"{self.symbol} {self.expiry} {format(self.strike.normalize(), 'f')}{self.right}"
        return self.symbol

    def to_event(self) -> LedgerEvent:
        return LedgerEvent(
            time=self.time,
            symbol=self.symbol,
            kind=self.kind,  # type: ignore[arg-type]
            sec_type=self.sec_type,  # type: ignore[arg-type]
            side=self.side,  # type: ignore[arg-type]
            quantity=abs(self.quantity),
            price=self.price,
            multiplier=self.multiplier or 1,
            commission=abs(self.commission or Decimal(0)),
            right=self.right or None,  # type: ignore[arg-type]
            strike=self.strike,
            expiry=self.expiry,
            ref=self.exec_id,
        )


class Adjustment(models.Model):
    """What the executions cannot show: a lot bought before Wheeldesk, a dividend."""

    KINDS = [("lot", "pre-existing share lot"), ("dividend", "dividend received")]

    kind = models.CharField(max_length=10, choices=KINDS)
    symbol = models.CharField(max_length=12, db_index=True)
    time = models.DateTimeField()
    quantity = models.DecimalField(default=0, help_text="Shares (lots).", **MONEY)
    price = models.DecimalField(default=0, help_text="Cost per share (lots).", **MONEY)
    amount = models.DecimalField(default=0, help_text="Cash received, USD (dividends).", **MONEY)
    note = models.CharField(max_length=500)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-time"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.symbol} {self.time:%Y-%m-%d}"

    def to_event(self) -> LedgerEvent:
        if self.kind == "lot":
            return LedgerEvent(
                time=self.time,
                symbol=self.symbol,
                kind="lot",
                sec_type="STK",
                side="BOT",
                quantity=self.quantity,
                price=self.price,
                ref=f"adj-{self.pk}",
                note=self.note,
            )
        return LedgerEvent(
            time=self.time,
            symbol=self.symbol,
            kind="dividend",
            sec_type="CASH",
            amount=self.amount,
            ref=f"adj-{self.pk}",
            note=self.note,
        )


class WheelCycle(models.Model):
    """A cycle as last built from the executions (rebuilt per ticker on every change)."""

    key = models.CharField(max_length=120, unique=True)
    symbol = models.CharField(max_length=12, db_index=True)
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=16, db_index=True)
    state_label = models.CharField(max_length=64)
    outcome = models.CharField(max_length=16, blank=True)
    premium = models.DecimalField(**MONEY)
    put_premium = models.DecimalField(**MONEY)
    call_premium = models.DecimalField(**MONEY)
    dividends = models.DecimalField(**MONEY)
    fees = models.DecimalField(**MONEY)
    shares = models.DecimalField(**MONEY)
    shares_acquired = models.DecimalField(**MONEY)
    assignment_price = models.DecimalField(null=True, blank=True, **MONEY)
    adjusted_cost_basis = models.DecimalField(null=True, blank=True, **MONEY)
    capital = models.DecimalField(**MONEY)
    realised_pnl = models.DecimalField(null=True, blank=True, **MONEY)
    annualised_return = models.DecimalField(null=True, blank=True, **MONEY)
    days = models.PositiveIntegerField(default=1)
    rolls = models.PositiveIntegerField(default=0)
    event_refs = models.JSONField(default=list)

    class Meta:
        ordering = ["-start"]

    def __str__(self) -> str:
        return f"{self.symbol} {self.start:%Y-%m-%d} {self.state_label}"

    @property
    def is_open(self) -> bool:
        return self.state != "closed"
