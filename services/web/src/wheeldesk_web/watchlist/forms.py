from typing import Any

from django import forms
from pydantic import ValidationError as PydanticValidationError
from wheeldesk.schemas.screener import Criteria

from wheeldesk_web.preferences.forms import LABELS, human_message
from wheeldesk_web.watchlist.models import NOTES_MAX
from wheeldesk_web.watchlist.services import IMPORT_MAX, WatchlistError, normalise_symbol

INPUT = {"class": "input"}


class AddSymbolForm(forms.Form):
    symbol = forms.CharField(
        max_length=20,
        widget=forms.TextInput(
            attrs={
                **INPUT,
                "placeholder": "e.g. KO",
                "autocomplete": "off",
                "autocapitalize": "characters",
            }
        ),
    )
    notes = forms.CharField(
        required=False,
        max_length=NOTES_MAX,
        widget=forms.TextInput(attrs={**INPUT, "placeholder": "Why you would own it (optional)"}),
    )

    def clean_symbol(self) -> str:
        try:
            return normalise_symbol(self.cleaned_data["symbol"])
        except WatchlistError as exc:
            raise forms.ValidationError(str(exc)) from exc


class NotesForm(forms.Form):
    notes = forms.CharField(
        required=False,
        max_length=NOTES_MAX,
        widget=forms.Textarea(attrs={**INPUT, "rows": 2}),
    )


class ImportForm(forms.Form):
    symbols = forms.CharField(
        max_length=IMPORT_MAX * 12,
        widget=forms.Textarea(
            attrs={**INPUT, "rows": 3, "placeholder": "KO, PEP, JNJ\nor one per line"}
        ),
        help_text="Comma- or newline-separated tickers.",
    )


class WatchlistForm(forms.Form):
    name = forms.CharField(
        max_length=60, widget=forms.TextInput(attrs={**INPUT, "placeholder": "Dividend payers"})
    )


# The criteria a watchlist may set for itself (the option filters a trader tunes per list:
# shorter puts on one, calls nearer the money on another); the rest always come from Settings.
LIST_CRITERIA = [
    "dte_min", "dte_max", "delta_min", "delta_max", "min_apy", "min_open_interest",
    "max_spread_pct", "min_premium",
    "cc_dte_min", "cc_dte_max", "cc_delta_min", "cc_delta_max", "cc_min_apy",
]  # fmt: skip
WHOLE = {"dte_min", "dte_max", "cc_dte_min", "cc_dte_max", "min_open_interest"}
AT_MOST = {"dte_min": 730, "dte_max": 730, "cc_dte_min": 730, "cc_dte_max": 730}
AT_MOST |= {k: 1 for k in ("delta_min", "delta_max", "cc_delta_min", "cc_delta_max")}


class WatchlistCriteriaForm(forms.Form):
    """A watchlist's own criteria: each empty field keeps the Settings' value (shown as the
    placeholder). Checked merged with the Settings, the screener's way, so an error names
    the field in the Settings page's words ("Minimum DTE must not exceed maximum DTE")."""

    def __init__(self, *args: Any, base: Criteria, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base = base
        for name in LIST_CRITERIA:
            cls = forms.IntegerField if name in WHOLE else forms.FloatField
            field = cls(required=False, min_value=0, max_value=AT_MOST.get(name))
            field.label = LABELS[name]
            setting = getattr(base, name)
            shown = "as the puts" if setting is None else f"{setting:g}"
            field.widget.attrs.update(
                {"class": "input", "placeholder": f"Settings: {shown}", "step": "any"}
            )
            self.fields[name] = field

    def own(self) -> dict[str, Any]:
        """The values set (cleaned): what the watchlist stores."""
        return {k: v for k, v in self.cleaned_data.items() if v is not None}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            Criteria(**(self.base.model_dump() | self.own()))
        except PydanticValidationError as exc:
            for err in exc.errors():
                loc = err["loc"][0] if err["loc"] else None
                message = human_message(err["msg"].removeprefix("Value error, "))
                if isinstance(loc, str) and loc not in self.fields:
                    message += " (your Settings' value)"
                self.add_error(loc if loc in self.fields else None, message)
        return cleaned
