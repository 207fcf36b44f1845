"""Saved scans (emailed when new tier-A signals match) and alert preferences."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from wheeldesk_web.alerts.models import AlertPreferences, Notification, SavedScan
from wheeldesk_web.core.schedule import schedule_summary
from wheeldesk_web.preferences.models import UserConfig


class _Styled:
    def _style(self) -> None:
        for field in self.fields.values():  # type: ignore[attr-defined]
            if not isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs.setdefault("class", "input")


class SavedScanForm(_Styled, forms.ModelForm):
    class Meta:
        model = SavedScan
        fields = [
            "name",
            "watchlist",
            "kinds",
            "min_apy",
            "min_pop",
            "max_delta",
            "max_dte",
            "email",
        ]
        labels = {
            "kinds": "Signal kinds",
            "min_apy": "Minimum APY (%)",
            "min_pop": "Minimum P(OTM), probability of expiring out of the money (%)",
            "max_delta": "Maximum |delta|",
            "max_dte": "Maximum days to expiry",
            "email": "Email new tier-A signals",
        }

    def __init__(self, *args, user=None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["watchlist"].queryset = user.watchlists.all() if user else None  # type: ignore[attr-defined]
        self._style()

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if (
            SavedScan.objects.filter(user=self.user, name=name)
            .exclude(pk=self.instance.pk)
            .exists()
        ):
            raise forms.ValidationError("You already have a saved scan with this name.")
        return name

    def clean_kinds(self) -> str:
        kinds = [k.strip().upper() for k in self.cleaned_data["kinds"].split(",") if k.strip()]
        bad = [k for k in kinds if k not in {"CSP", "CC", "ROLL", "CLOSE"}]
        if bad or not kinds:
            raise forms.ValidationError("Use CSP, CC, ROLL or CLOSE, comma-separated.")
        return ",".join(kinds)


class PreferencesForm(_Styled, forms.ModelForm):
    class Meta:
        model = AlertPreferences
        fields = ["disconnected", "disconnected_minutes", "expiry_itm", "expiry_days"]
        labels = {
            "disconnected": "Email when IBKR stays disconnected",
            "disconnected_minutes": "…for longer than (minutes)",
            "expiry_itm": "Email when a short option is in the money near expiry",
            "expiry_days": "…within (days of expiry)",
        }

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._style()


def index(request: HttpRequest) -> HttpResponse:
    prefs, _ = AlertPreferences.objects.get_or_create(user=request.user)
    form = SavedScanForm(user=request.user)
    pform = PreferencesForm(instance=prefs)
    if request.method == "POST":
        if "save_prefs" in request.POST:
            pform = PreferencesForm(request.POST, instance=prefs)
            if pform.is_valid():
                pform.save()
                messages.success(request, "Alert preferences saved.")
                return redirect("alerts:index")
        else:
            form = SavedScanForm(request.POST, user=request.user)
            if form.is_valid():
                saved = form.save(commit=False)
                saved.user = request.user
                saved.save()
                messages.success(request, f"Saved scan “{saved.name}” created.")
                return redirect("alerts:index")
        messages.error(request, "Not saved: fix the fields marked below.")
    return render(
        request,
        "alerts/index.html",
        {
            "saved": SavedScan.objects.filter(user=request.user).select_related("watchlist"),
            "form": form,
            "pform": pform,
            "recent": Notification.objects.filter(user=request.user)[:20],
            "schedule": schedule_summary(UserConfig.for_user(request.user)),
        },
    )


@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedScan, pk=pk, user=request.user)
    saved.delete()
    messages.success(request, f"Saved scan “{saved.name}” deleted.")
    return redirect("alerts:index")
