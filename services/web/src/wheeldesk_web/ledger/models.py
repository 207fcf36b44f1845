"""Executions (as IB reported them), manual adjustments, and the cycles built from them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import models

from wheeldesk_web.ledger.cycles import EASTERN, LedgerEvent

MONEY = {"max_digits": 16, "decimal_places": 4}


class Execution(models.Model):
    """One fill, as every source that reported it agrees: the ledger's source of truth.

    The API (live feed over NATS), the bridge's backfill and Flex reports describe the same
    fill in different words and with different ids (Flex leaves `ibExecID` empty on expiries
    and assignments, and a query may lack the column altogether). Each source's version is
    kept in `raws`; the columns are their merge (see `ledger.identity`), so the ledger is the
    same whatever order the sources arrive in. `exec_id` is IB's execution id when any source
    gave one, else the Flex trade id. A row whose id clashed with another fill's is kept with
    `conflict_with` set and shown on the ledger page, never merged or dropped.
    """

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
    symbol = models.CharField(max_length=21, db_index=True)
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
    sources = models.CharField(
        max_length=32, blank=True, help_text="Every source that reported it, comma-separated."
    )
    ib_exec_id = models.CharField(max_length=80, blank=True, db_index=True)
    raws = models.JSONField(default=dict, blank=True)
    conflict_with = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="conflicts"
    )
    conflict_id = models.CharField(max_length=80, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-time"]

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d} {self.side} {self.quantity} {self.contract}"

    def problem(self) -> str:
        """Why this stored row cannot be trusted (values outside sane bounds, e.g. stored
        before the checks existed), or "" when it is fine."""
        from wheeldesk_web.ledger.validation import MAX_PRICE, MAX_QUANTITY, MULTIPLIERS

        if self.multiplier not in MULTIPLIERS:
            return f"multiplier {self.multiplier}"
        for name, value, hi in (
            ("quantity", self.quantity, MAX_QUANTITY),
            ("price", self.price, MAX_PRICE),
            ("strike", self.strike, MAX_PRICE),
        ):
            if value is not None and (not value.is_finite() or not 0 <= abs(value) < hi):
                return f"{name} {value}"
        if not 1990 <= self.time.year <= 2100:
            return f"time {self.time:%Y-%m-%d}"
        if len(self.symbol) > 21:
            return "symbol too long"
        return ""

    @property
    def source_list(self) -> list[str]:
        return [s for s in (self.sources or self.source).split(",") if s]

    @property
    def contract(self) -> str:
        if self.sec_type == "OPT" and self.strike is not None:
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


class ExecutionAlias(models.Model):
    """Every id a source ever gave an execution (IB exec ids, corrected ones, Flex trade ids),
    so a repeat from any source finds the execution it already is."""

    alias = models.CharField(max_length=120, unique=True)
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="aliases")

    def __str__(self) -> str:
        return self.alias


class PositionSnapshot(models.Model):
    """The account's positions as IBKR last reported them at a sync: what the ledger's open
    quantities are reconciled against."""

    taken = models.DateTimeField()
    account_id = models.CharField(max_length=32, blank=True)
    positions = models.JSONField(default=list)

    class Meta:
        ordering = ["-taken"]

    def __str__(self) -> str:
        return f"positions {self.taken:%Y-%m-%d %H:%M}"


class Adjustment(models.Model):
    """What the executions cannot show: an opening lot held before the ledger's history (shares
    or a short option), a dividend."""

    KINDS = [
        ("lot", "opening share lot"),
        ("option", "opening short option"),
        ("dividend", "dividend received"),
    ]

    kind = models.CharField(max_length=10, choices=KINDS)
    symbol = models.CharField(max_length=21, db_index=True)
    time = models.DateTimeField()
    quantity = models.DecimalField(
        default=0, help_text="Shares (lots) or contracts (options).", **MONEY
    )
    price = models.DecimalField(
        default=0, help_text="Cost per share (lots) or premium per share (options).", **MONEY
    )
    amount = models.DecimalField(default=0, help_text="Cash received, USD (dividends).", **MONEY)
    right = models.CharField(
        max_length=1, blank=True, choices=[("P", "put"), ("C", "call")], help_text="Options."
    )
    strike = models.DecimalField(null=True, blank=True, help_text="Options.", **MONEY)
    expiry = models.DateField(null=True, blank=True, help_text="Options.")
    from_broker = models.BooleanField(
        default=False,
        help_text="Taken from IBKR's average cost at a sync (edit if you know better).",
    )
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
        if self.kind == "option":
            # An opening short option: sold before the ledger's history, so its premium
            # was received then (at `price`), and it will expire / be assigned / bought back.
            return LedgerEvent(
                time=self.time,
                symbol=self.symbol,
                kind="trade",
                sec_type="OPT",
                side="SLD",
                quantity=self.quantity,
                price=self.price,
                multiplier=100,
                right=self.right or None,  # type: ignore[arg-type]
                strike=self.strike,
                expiry=self.expiry,
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
    basis_unknown = models.BooleanField(
        default=False, help_text="Shares/options never seen opened: basis and P&L unknown."
    )
    event_refs = models.JSONField(default=list)

    class Meta:
        ordering = ["-start"]

    def __str__(self) -> str:
        return f"{self.symbol} {self.start:%Y-%m-%d} {self.state_label}"

    @property
    def is_open(self) -> bool:
        return self.state != "closed"

    def days_on(self, today: date) -> int:
        """Calendar days of the cycle as of `today` (an open cycle keeps counting; the
        stored `days` is only right as of the last rebuild)."""
        if self.end is not None:
            return self.days
        return max(1, (today - self.start.astimezone(EASTERN).date()).days)


class FlexImport(models.Model):
    """A large Flex import stored in the background, and how far it got: the ledger page
    polls it (as the signals page polls a scan) while the batches go in."""

    RUNNING, DONE, FAILED = "running", "done", "failed"
    STATUSES = [(RUNNING, "running"), (DONE, "done"), (FAILED, "failed")]

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    filename = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=8, choices=STATUSES, default=RUNNING)
    total = models.PositiveIntegerField(default=0, help_text="Trades in the file.")
    processed = models.PositiveIntegerField(default=0, help_text="Trades stored or recognised.")
    added = models.PositiveIntegerField(default=0, help_text="Trades new to the ledger.")
    stage = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    started = models.DateTimeField(auto_now_add=True)
    heartbeat = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the import last stored a batch: a running import silent for long "
        "(imports.STALE_AFTER) stopped with its process.",
    )
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started"]

    def __str__(self) -> str:
        return f"Flex import {self.pk} {self.filename} {self.status}"
