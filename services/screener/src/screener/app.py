"""Screener HTTP app: thin routes over the plain functions in this package."""

from __future__ import annotations

from fastapi import FastAPI
from wheeldesk.app import create_app
from wheeldesk.settings import load_settings

from screener.settings import ScreenerSettings


def build_app(settings: ScreenerSettings | None = None) -> FastAPI:
    settings = settings or load_settings(ScreenerSettings)
    app = create_app("screener", settings, description="Wheel signal engine")
    return app
