"""Orders as sent to IBKR, their status history, the trading switch and the audit log."""

from __future__ import annotations

import hashlib
import json
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from wheeldesk.schemas.orders import ComboLeg, ComboOrderRequest, OrderRequest

MONEY = {"max_digits": 16, "decimal_places": 4}


def new_client_order_id() -> str:
    """Generated once, when the preview is shown: the idempotency key of the whole order."""
    return f"wd-{uuid.uuid4().hex[:24]}"


class TradingConfig(models.Model):
    """Pre-trade limits and the "trading disabled" switch (one row)."""

    trading_enabled = models.BooleanField(
        default=True, help_text="Off blocks every new order at once (cancels still work)."
    )
    max_contracts = models.PositiveIntegerField(default=10, help_text="Per order.")
    max_notional = models.DecimalField(
        default=Decimal("100000"), help_text="Strike × 100 × contracts, USD, per order.", **MONEY
    )
    limit_warn_pct = models.DecimalField(
        default=Decimal("10"), help_text="Warn when the limit is this % away from mid.", **MONEY
    )
    limit_block_pct = models.DecimalField(
        default=Decimal("50"), help_text="Block when the limit is this % away from mid.", **MONEY
    )
    concentration_pct = models.DecimalField(
        default=Decimal("25"), help_text="Max share of net liquidation in one ticker, %.", **MONEY
    )
    cash_reserve_pct = models.DecimalField(
        default=Decimal("10"), help_text="Cash to keep free, % of net liquidation.", **MONEY
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "trading settings"
        verbose_name_plural = "trading settings"

    def __str__(self) -> str:
        return "Trading enabled" if self.trading_enabled else "Trading DISABLED"

    @classmethod
    def load(cls) -> TradingConfig:
        """The settings row, or the defaults unsaved: reading them (any GET) writes nothing."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class Order(models.Model):
    PREVIEWED = "previewed"
    SENDING = "sending"
    UNKNOWN = "unknown"
    REFUSED = "refused"
    NOT_SENT = "not_sent"
    STATUSES = [
        (PREVIEWED, "previewed"),
        (NOT_SENT, "not sent — IBKR disconnected"),
        (SENDING, "sending"),
        (UNKNOWN, "answer lost — reconciling"),
        ("pending", "pending"),
        ("submitted", "submitted"),
        ("partially_filled", "partially filled"),
        ("filled", "filled"),
        ("cancelled", "cancelled"),
        ("rejected", "rejected"),
        (REFUSED, "refused"),
    ]
    TERMINAL = {"filled", "cancelled", "rejected", REFUSED}
    WORKING = {SENDING, UNKNOWN, "pending", "submitted", "partially_filled"}
    # Not (yet) at IBKR: the creator's alone to edit, preview and confirm (a retry included).
    DRAFT = {PREVIEWED, NOT_SENT}
    INTENTS = [("open", "open"), ("close", "buy to close"), ("roll", "roll")]

    client_order_id = models.CharField(max_length=64, unique=True, default=new_client_order_id)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    signal_id = models.BigIntegerField(null=True, blank=True, help_text="The signal it came from.")
    intent = models.CharField(max_length=8, choices=INTENTS, default="open")
    roll_group = models.CharField(max_length=64, blank=True, db_index=True)
    # A roll is ONE combo (sec_type BAG): its legs, in IB's order (BUY to close, SELL to open).
    # expiry/strike/right then name the contract it rolls to; limit_price is IB's net for the
    # combo (negative = a credit).
    legs = models.JSONField(default=list, blank=True)
    symbol = models.CharField(max_length=12, db_index=True)
    sec_type = models.CharField(max_length=3, default="OPT")
    expiry = models.DateField(null=True, blank=True)
    strike = models.DecimalField(null=True, blank=True, **MONEY)
    right = models.CharField(max_length=1, blank=True)
    action = models.CharField(max_length=4, choices=[("BUY", "buy"), ("SELL", "sell")])
    quantity = models.PositiveIntegerField()
    order_type = models.CharField(max_length=3, default="LMT")
    limit_price = models.DecimalField(null=True, blank=True, **MONEY)
    tif = models.CharField(max_length=3, default="DAY")
    account_id = models.CharField(max_length=32, blank=True)
    is_paper = models.BooleanField(default=True)
    preview = models.JSONField(default=dict, blank=True, help_text="The bridge's what-if.")
    checks = models.JSONField(default=list, blank=True)
    ticket_hash = models.CharField(
        max_length=64, blank=True, help_text="The ticket the stored preview and checks are of."
    )
    previewed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=STATUSES, default=PREVIEWED, db_index=True)
    ib_order_id = models.BigIntegerField(null=True, blank=True)
    perm_id = models.BigIntegerField(null=True, blank=True)
    filled = models.DecimalField(default=0, **MONEY)
    avg_fill_price = models.DecimalField(null=True, blank=True, **MONEY)
    commission = models.DecimalField(null=True, blank=True, **MONEY)
    fills = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True, help_text="IB's reason, or why Wheeldesk refused.")
    sent_at = models.DateTimeField(null=True, blank=True)
    # Automatic re-price, opted into per order at confirm: while it works, every
    # `reprice_every` minutes one `reprice_step` toward the market, at most `reprice_max` times.
    reprice_every = models.PositiveSmallIntegerField(null=True, blank=True)
    reprice_max = models.PositiveSmallIntegerField(default=0)
    reprice_step = models.DecimalField(null=True, blank=True, **MONEY)
    reprice_done = models.PositiveSmallIntegerField(default=0)
    repriced_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]
        permissions = [("trade", "Can preview, send and cancel orders")]

    def __str__(self) -> str:
        return f"{self.action} {self.quantity} {self.contract} ({self.status})"

    @property
    def is_draft(self) -> bool:
        return self.status in self.DRAFT

    def ticket_digest(self) -> str:
        """A fingerprint of everything IBKR would be sent: the confirm form carries the one of
        the preview the user saw, so a ticket changed since (another tab, a replayed update, a
        crafted POST) is refused instead of sent unseen."""
        strike = format(self.strike.normalize(), "f") if self.strike is not None else ""
        limit = format(self.limit_price.normalize(), "f") if self.limit_price is not None else ""
        fields = [
            self.client_order_id,
            self.symbol,
            self.sec_type,
            self.expiry.isoformat() if self.expiry else "",
            strike,
            self.right,
            self.action,
            str(self.quantity),
            self.order_type,
            limit,
            self.tif,
        ]
        if self.legs:
            fields.append(json.dumps(self.legs, sort_keys=True))
        return hashlib.sha256("|".join(fields).encode()).hexdigest()[:32]

    @property
    def is_combo(self) -> bool:
        return self.sec_type == "BAG"

    @property
    def contract(self) -> str:
        if self.is_combo and self.legs:
            names = [f"{leg['expiry']} {leg['strike']:g}{leg['right']}" for leg in self.legs]
            return f"{self.symbol} roll {' → '.join(names)}"
        if self.sec_type == "OPT":
            return f"{self.symbol} {self.expiry:%Y-%m-%d} {format(self.strike.normalize(), 'f')}{self.right}"
        return self.symbol

    @property
    def contract_key(self) -> tuple:
        return (self.symbol, self.sec_type, self.expiry, self.strike, self.right or "")

    @property
    def is_working(self) -> bool:
        return self.status in self.WORKING

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def can_cancel(self) -> bool:
        return self.ib_order_id is not None and self.status in {
            "pending",
            "submitted",
            "partially_filled",
        }

    @property
    def multiplier(self) -> int:
        return 100 if self.sec_type in ("OPT", "BAG") else 1

    @property
    def notional(self) -> Decimal:
        return (self.strike or self.limit_price or Decimal(0)) * self.multiplier * self.quantity

    @property
    def premium(self) -> Decimal | None:
        """Credit (+) or debit (−) at the limit, USD, before commission."""
        if self.limit_price is None:
            return None
        gross = self.limit_price * self.multiplier * self.quantity
        return gross if self.action == "SELL" else -gross

    @property
    def fill_rows(self) -> list[dict]:
        """Fills as stored from the bridge, with times as datetimes (shown in local time)."""
        from datetime import datetime

        rows = []
        for f in self.fills:
            try:
                when = datetime.fromisoformat(str(f.get("time")))
            except ValueError:
                when = None
            rows.append({**f, "time": when})
        return rows

    def to_request(
        self, *, placeholder_limit: Decimal | None = None
    ) -> OrderRequest | ComboOrderRequest:
        if self.is_combo:
            return ComboOrderRequest(
                client_order_id=self.client_order_id,
                symbol=self.symbol,
                legs=[ComboLeg.model_validate(leg) for leg in self.legs],
                action=self.action,  # type: ignore[arg-type]
                quantity=self.quantity,
                limit_price=self.limit_price,
                tif=self.tif,  # type: ignore[arg-type]
            )
        return OrderRequest(
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            sec_type=self.sec_type,  # type: ignore[arg-type]
            expiry=self.expiry,
            strike=float(self.strike) if self.strike is not None else None,
            right=self.right or None,  # type: ignore[arg-type]
            action=self.action,  # type: ignore[arg-type]
            quantity=self.quantity,
            order_type=self.order_type,  # type: ignore[arg-type]
            limit_price=self.limit_price or placeholder_limit,
            tif=self.tif,  # type: ignore[arg-type]
        )


class OrderStatusChange(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="history")
    status = models.CharField(max_length=20)
    filled = models.DecimalField(default=0, **MONEY)
    note = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.status}"


class OrderAudit(models.Model):
    """Every order action, for the admin: what happened, who did it, and why."""

    ACTIONS = [
        ("preview", "preview shown"),
        ("confirm", "confirmed"),
        ("send", "sent to bridge"),
        ("sent", "accepted by bridge"),
        ("duplicate", "duplicate confirm ignored"),
        ("refused", "refused"),
        ("error", "bridge error"),
        ("reconcile", "reconciled"),
        ("cancel", "cancel requested"),
        ("modify", "re-priced (IB modify)"),
        ("status", "status changed"),
        ("config", "trading settings changed"),
    ]

    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit"
    )
    client_order_id = models.CharField(max_length=64, blank=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=12, choices=ACTIONS)
    detail = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.client_order_id}"
