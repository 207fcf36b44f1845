"""What every app's admin shares."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest


class RecordAdmin(admin.ModelAdmin):
    """A record the product writes itself (a status history, an audit line, a snapshot): the
    admin shows it and never adds or edits one, so it stays what happened. (Deleting stays
    possible: deleting an order or an execution takes its records with it.)"""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
