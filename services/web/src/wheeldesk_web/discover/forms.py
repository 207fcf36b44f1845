"""The user's own discovery: scan code, location and filters offered from IB's parameters."""

from __future__ import annotations

from typing import Any

from django import forms
from wheeldesk.schemas.scanner import MAX_ROWS, MarketScanRequest, ScannerParameters

INPUT = {"class": "input"}
FILTER_PREFIX = "filter_"


def _pair(code: str) -> str | None:
    """`priceAbove` ↔ `priceBelow`, `marketCapAbove1e6` ↔ `marketCapBelow1e6`."""
    if "Above" in code:
        return code.replace("Above", "Below", 1)
    return None


class DiscoverForm(forms.Form):
    """Every choice comes from IB's scanner parameters: nothing is typed but numbers."""

    scan_code = forms.ChoiceField(label="Scan")
    location = forms.ChoiceField(label="Market")
    rows = forms.IntegerField(
        label="Rows", min_value=1, max_value=MAX_ROWS, initial=20, widget=forms.NumberInput(INPUT)
    )

    def __init__(self, params: ScannerParameters, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params = params
        scan = self.fields["scan_code"]
        assert isinstance(scan, forms.ChoiceField)
        scan.choices = [(c.code, c.name) for c in params.scan_codes]
        scan.widget.attrs.update(INPUT)
        loc = self.fields["location"]
        assert isinstance(loc, forms.ChoiceField)
        loc.choices = [(x.code, x.name) for x in params.locations if "STK" in x.instruments]
        loc.initial = "STK.US.MAJOR"
        loc.widget.attrs.update(INPUT)
        for f in params.filters:
            self.fields[FILTER_PREFIX + f.code] = forms.FloatField(
                label=f.name,
                required=False,
                min_value=0,
                widget=forms.NumberInput({**INPUT, "step": "any", "data-filter": f.code}),
            )

    def filter_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(FILTER_PREFIX)]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in list(self.fields):
            if not name.startswith(FILTER_PREFIX):
                continue
            other = _pair(name)
            low, high = data.get(name), data.get(other) if other else None
            if other and low is not None and high is not None and low >= high:
                self.add_error(other, f"Must be above {self.fields[name].label} ({low:g}).")
        return data

    def to_request(self) -> MarketScanRequest:
        d = self.cleaned_data
        filters = {
            name.removeprefix(FILTER_PREFIX): value
            for name, value in d.items()
            if name.startswith(FILTER_PREFIX) and value is not None
        }
        return MarketScanRequest(
            scan_code=d["scan_code"], location=d["location"], filters=filters, rows=d["rows"]
        )

    def field_for(self, api_field: str | None) -> str | None:
        """The form field a bridge error names (`filters.priceAbove` → `filter_priceAbove`)."""
        if not api_field:
            return None
        if api_field.startswith("filters."):
            name = FILTER_PREFIX + api_field.removeprefix("filters.")
            return name if name in self.fields else None
        return api_field if api_field in self.fields else None


class SaveForm(forms.Form):
    name = forms.CharField(
        label="Save as", max_length=80, widget=forms.TextInput({**INPUT, "placeholder": "Name"})
    )
    on_schedule = forms.BooleanField(
        label="Run it once a trading day (new names get the wheel screen and the email digest)",
        required=False,
    )
