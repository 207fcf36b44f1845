"""Saved scans, what was emailed (so nothing is emailed twice), and the worker's own state."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SavedScan(models.Model):
    """A named set of criteria over a watchlist; new tier-A signals matching it are emailed."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_scans"
    )
    name = models.CharField(max_length=60)
    watchlist = models.ForeignKey(
        "watchlist.Watchlist",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text="Empty: every symbol the scan covered.",
    )
    kinds = models.CharField(
        max_length=20, default="CSP,CC", help_text="Signal kinds, comma-separated."
    )
    min_apy = models.FloatField(null=True, blank=True, help_text="Annualised yield at least, %.")
    min_pop = models.FloatField(null=True, blank=True, help_text="Probability OTM at least, %.")
    max_delta = models.FloatField(null=True, blank=True, help_text="|delta| at most.")
    max_dte = models.PositiveIntegerField(null=True, blank=True)
    email = models.BooleanField(default=True, help_text="Email each new tier-A signal once.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="unique_saved_scan_name")
        ]

    def __str__(self) -> str:
        return self.name

    def kind_list(self) -> list[str]:
        return [k.strip().upper() for k in self.kinds.split(",") if k.strip()]


class Notification(models.Model):
    """One email the worker decided to send, keyed by its idempotency key.

    Written *before* the notifier is called; a worker killed between the two re-sends
    the same key on restart, and the notifier drops the duplicate.
    """

    KINDS = [
        ("signal_digest", "signal digest"),
        ("order_filled", "order filled"),
        ("cycle_event", "option assigned, called away, exercised or expired"),
        ("connection_lost", "IBKR disconnected"),
        ("expiry_itm", "short option near expiry and ITM"),
        ("account_mail", "account email (password reset)"),
    ]
    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=KINDS)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE)
    request = models.JSONField(help_text="The EmailRequest sent to the notifier.")
    status = models.CharField(
        max_length=8,
        choices=[("pending", "pending"), ("sent", "accepted"), ("failed", "failed")],
        default="pending",
        db_index=True,
    )
    email_id = models.CharField(max_length=80, blank=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} ({self.status})"


class EmailedSignal(models.Model):
    """A signal (by contract) already emailed to this user: never emailed again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    signal_key = models.CharField(max_length=80)
    signal = models.ForeignKey(
        "signals.Signal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    saved_scan = models.ForeignKey(SavedScan, null=True, blank=True, on_delete=models.SET_NULL)
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "signal_key"], name="unique_emailed_signal")
        ]

    def __str__(self) -> str:
        return self.signal_key


class AlertPreferences(models.Model):
    """Operational alerts a user wants (address and order-fill opt-in live in UserConfig)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_preferences"
    )
    disconnected = models.BooleanField(default=True, help_text="Email when IBKR stays down.")
    disconnected_minutes = models.PositiveIntegerField(
        default=10, help_text="Email when IBKR has been disconnected this long (once per outage)."
    )
    expiry_itm = models.BooleanField(
        default=True, help_text="Email when a short option is in the money near expiry."
    )
    expiry_days = models.PositiveIntegerField(
        default=3, help_text="Warn about short options in the money this close to expiry."
    )

    class Meta:
        verbose_name_plural = "alert preferences"

    def __str__(self) -> str:
        return f"alerts for {self.user}"


class WorkerState(models.Model):
    """Small named values the worker keeps across restarts (last runs, outage start)."""

    name = models.CharField(max_length=60, unique=True)
    value = models.JSONField(default=dict)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name

    @classmethod
    def get(cls, name: str) -> dict:
        row = cls.objects.filter(name=name).first()
        return row.value if row else {}

    @classmethod
    def put(cls, name: str, value: dict) -> None:
        cls.objects.update_or_create(name=name, defaults={"value": value})
