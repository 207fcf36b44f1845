"""gateway-bridge HTTP app."""

from __future__ import annotations

from fastapi import FastAPI
from wheeldesk.app import create_app
from wheeldesk.settings import load_settings

from gateway_bridge.settings import BridgeSettings


def build_app(settings: BridgeSettings | None = None) -> FastAPI:
    settings = settings or load_settings(BridgeSettings)
    return create_app("gateway-bridge", settings, description="The one door to IBKR")
