"""Notifier HTTP app."""

from __future__ import annotations

from fastapi import FastAPI
from wheeldesk.app import create_app
from wheeldesk.settings import load_settings

from notifier.settings import NotifierSettings


def build_app(settings: NotifierSettings | None = None) -> FastAPI:
    settings = settings or load_settings(NotifierSettings)
    return create_app("notifier", settings, description="Outgoing email through Resend")
