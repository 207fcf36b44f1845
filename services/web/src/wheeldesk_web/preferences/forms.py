"""The settings form: every UserConfig field, grouped, each with its default and a one-liner."""

from __future__ import annotations

import re

from django import forms
from pydantic import ValidationError as PydanticValidationError
from wheeldesk.schemas.screener import Criteria

from wheeldesk_web.preferences.models import CRITERIA_FIELDS, UserConfig

# Explanations where the screener's schema has no description of its own.
EXPLAIN = {
    "min_roe": "Skip companies whose return on equity is below this, %.",
    "require_positive_fcf": "Only sell puts on companies generating free cash flow.",
    "max_beta": "Skip stocks more volatile than the market by more than this.",
    "min_price": "Skip stocks cheaper than this (USD).",
    "max_price": "Skip stocks dearer than this: one contract controls 100 shares (USD).",
    "min_market_cap": "Skip companies smaller than this (USD).",
    "dte_min": "Shortest days to expiry to consider.",
    "dte_max": "Longest days to expiry to consider.",
    "delta_min": "Lowest |delta| (roughly the chance of assignment) to consider.",
    "delta_max": "Highest |delta| to consider.",
    "min_iv": "Minimum implied volatility, as a fraction (0.25 = 25%). Empty: no minimum.",
    "min_iv_rank": "Minimum IV rank (where today's IV sits in its 52-week range), 0–100.",
    "min_open_interest": "Skip contracts with fewer open contracts than this.",
    "max_spread_pct": "Skip contracts whose bid/ask spread is wider than this % of mid.",
    "min_premium": "Skip contracts paying less than this per share (USD).",
    "min_apy": "Skip contracts yielding less than this, annualised %.",
    "max_collateral": "Cap on strike × 100 per position (USD). Empty: no cap.",
    "earnings": "Earnings before expiry: exclude the contract, flag it, or ignore.",
    "premium_basis": "Premium counted at the bid (what a market sell fills at) or the mid.",
    "cc_min_strike_vs_basis": "Covered calls only at strikes at or above your cost basis.",
    "cc_dte_min": "Covered calls: shortest days to expiry. Empty: the puts' minimum.",
    "cc_dte_max": "Covered calls: longest days to expiry. Empty: the puts' maximum.",
    "cc_delta_min": "Covered calls: lowest |delta| (chance of being called). Empty: the puts'.",
    "cc_delta_max": "Covered calls: highest |delta|. Empty: the puts'.",
    "cc_min_apy": "Covered calls: minimum annualised yield, %. Empty: the puts' minimum.",
    "take_profit_pct": "Suggest closing once this % of the premium is captured.",
    "roll_dte": "Suggest rolling when this many days or fewer remain.",
    "max_signals_per_symbol": "At most this many signals per stock in one scan.",
    "notify_email": "Email me new signals.",
    "notify_address": "Send to this address (empty: my account's email).",
    "notify_min_tier": "Which tiers are worth an email.",
    "notify_fills": "Email me when an order fills, and when an option is assigned, called away or expires.",
    "scan_enabled": "Scan my default watchlist on a schedule.",
    "scan_times": "Times to scan, US/Eastern, comma-separated (e.g. 09:45,15:30).",
    "scan_weekdays_only": "Only on weekdays (market days).",
}

LABELS = {
    "min_roe": "Minimum ROE (%)",
    "require_positive_fcf": "Require positive free cash flow",
    "max_beta": "Maximum beta",
    "min_price": "Minimum stock price ($)",
    "max_price": "Maximum stock price ($)",
    "min_market_cap": "Minimum market cap ($)",
    "dte_min": "Minimum DTE (days)",
    "dte_max": "Maximum DTE (days)",
    "delta_min": "Minimum |delta|",
    "delta_max": "Maximum |delta|",
    "min_iv": "Minimum IV (fraction)",
    "min_iv_rank": "Minimum IV rank",
    "min_open_interest": "Minimum open interest",
    "max_spread_pct": "Maximum bid/ask spread (%)",
    "min_premium": "Minimum premium ($/share)",
    "min_apy": "Minimum APY (%)",
    "max_collateral": "Maximum collateral per position ($)",
    "earnings": "Earnings before expiry",
    "premium_basis": "Premium basis",
    "cc_min_strike_vs_basis": "Calls at or above cost basis only",
    "cc_dte_min": "Calls: minimum DTE (days)",
    "cc_dte_max": "Calls: maximum DTE (days)",
    "cc_delta_min": "Calls: minimum |delta|",
    "cc_delta_max": "Calls: maximum |delta|",
    "cc_min_apy": "Calls: minimum APY (%)",
    "take_profit_pct": "Take profit at (% of premium)",
    "roll_dte": "Roll at (DTE)",
    "max_signals_per_symbol": "Signals per stock (max)",
    "notify_email": "Email new signals",
    "notify_address": "Email address",
    "notify_min_tier": "Tiers to email",
    "notify_fills": "Email fills",
    "scan_enabled": "Scheduled scans",
    "scan_times": "Scan times (US/Eastern)",
    "scan_weekdays_only": "Weekdays only",
}

GROUPS = [
    ("Fundamentals", ["min_roe", "require_positive_fcf", "max_beta", "min_price", "max_price", "min_market_cap"]),
    ("Option filters (puts, and calls unless set below)", ["dte_min", "dte_max", "delta_min", "delta_max", "min_iv", "min_iv_rank", "min_open_interest", "max_spread_pct", "min_premium", "min_apy", "max_collateral", "earnings", "premium_basis"]),
    ("Covered calls (empty: as the puts)", ["cc_dte_min", "cc_dte_max", "cc_delta_min", "cc_delta_max", "cc_min_apy", "cc_min_strike_vs_basis"]),
    ("Roll and close", ["take_profit_pct", "roll_dte", "max_signals_per_symbol"]),
    ("Notifications", ["notify_email", "notify_address", "notify_min_tier", "notify_fills"]),
    ("Scan schedule", ["scan_enabled", "scan_times", "scan_weekdays_only"]),
]  # fmt: skip


def explanation(name: str) -> str:
    field = Criteria.model_fields.get(name)
    described = field.description if field is not None else None
    return EXPLAIN.get(name) or described or ""


def default_text(name: str) -> str:
    model_field = UserConfig._meta.get_field(name)
    default = model_field.get_default()
    if default is None or default == "":
        return "none"
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, float):
        return f"{default:,.0f}" if abs(default) >= 1e6 else f"{default:g}"
    return str(default)


def _label(name: str) -> str:
    """A field's label without its unit: "Minimum DTE (days)" -> "Minimum DTE"."""
    return re.sub(r"\s*\([^)]*\)$", "", LABELS.get(name, name))


def human_message(message: str) -> str:
    """The screener's rule in the words of the form: "dte_min must be <= dte_max" reads
    "Minimum DTE must not exceed maximum DTE"; any other field name becomes its label."""
    pair = re.fullmatch(r"(\w+) must be <= (\w+)", message.strip())
    if pair and pair[1] in LABELS and pair[2] in LABELS:
        upper = _label(pair[2])
        return f"{_label(pair[1])} must not exceed {upper[0].lower()}{upper[1:]}"
    words = re.sub(
        r"\b[a-z]+(?:_[a-z]+)+\b", lambda m: _label(m[0]) if m[0] in LABELS else m[0], message
    )
    return words[0].upper() + words[1:] if words else words


class UserConfigForm(forms.ModelForm):
    class Meta:
        model = UserConfig
        exclude = ["user", "updated"]

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.label = LABELS.get(name, field.label)
            field.help_text = f"{explanation(name)} Default: {default_text(name)}."
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs["class"] = "h-4 w-4"
            else:
                widget.attrs["class"] = "input"
            if isinstance(widget, forms.NumberInput):
                widget.attrs["step"] = "any"

    def clean(self):  # type: ignore[no-untyped-def]
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            Criteria(**{name: cleaned.get(name) for name in CRITERIA_FIELDS})
        except PydanticValidationError as exc:
            for err in exc.errors():
                loc = err["loc"][0] if err["loc"] else None
                message = err["msg"].removeprefix("Value error, ")
                if isinstance(loc, str) and loc in self.fields:
                    self.add_error(loc, human_message(message))
                else:
                    field = message.split(" ", 1)[0]
                    self.add_error(field if field in self.fields else None, human_message(message))
        return cleaned

    def groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(title, [self[name] for name in names]) for title, names in GROUPS]
