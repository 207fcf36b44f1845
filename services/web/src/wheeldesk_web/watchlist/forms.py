from django import forms

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
