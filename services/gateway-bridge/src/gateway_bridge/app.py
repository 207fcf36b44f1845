"""gateway-bridge HTTP app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from wheeldesk.app import create_app
from wheeldesk.settings import load_settings

from gateway_bridge.api import install_ib_error_handlers, router
from gateway_bridge.bridge import Bridge
from gateway_bridge.settings import BridgeSettings


def _fatal(app: FastAPI, reason: str) -> None:
    """Record why the bridge must stop and ask the server to exit (`__main__` then exits 2)."""
    app.state.fatal = reason
    stop = getattr(app.state, "stop_server", None)
    if stop is not None:
        stop()


def _publish_order_cap(app: FastAPI, cap: int) -> None:
    """State MAX_CONTRACTS_PER_ORDER in the published schema, as `guards.check_quantity`
    applies it: `cap` contracts for an option order, `cap` x 100 shares for a stock order
    (the branches of OrderRequest's anyOf). A combo's cap is on ratio x quantity, which JSON
    Schema cannot state."""
    openapi = app.openapi

    def with_cap() -> dict[str, Any]:
        schema = openapi()
        order = schema.get("components", {}).get("schemas", {}).get("OrderRequest-Input")
        if order is not None:  # the schema is cached: this runs on the one dict every time
            stock, option = order["anyOf"]
            stock["properties"]["quantity"] = {"maximum": cap * 100}
            option["properties"]["quantity"] = {"maximum": cap}
        return schema

    app.openapi = with_cap  # type: ignore[method-assign]


def build_app(settings: BridgeSettings | None = None) -> FastAPI:
    settings = settings or load_settings(BridgeSettings)
    holder: dict[str, Bridge] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # ib_insync looks its loop up through the policy; make that the running one.
        asyncio.set_event_loop(asyncio.get_running_loop())
        bridge = Bridge(settings)
        holder["bridge"] = bridge
        app.state.bridge = bridge
        bridge.session.on_fatal(lambda reason: _fatal(app, reason))
        await bridge.start()
        try:
            yield
        finally:
            await bridge.stop()

    def ib_ready() -> str | None:
        bridge = holder.get("bridge")
        if bridge is None:
            return "starting"
        return bridge.session.not_ready_reason()

    app = create_app(
        "gateway-bridge",
        settings,
        readiness={"ibkr": ib_ready},
        lifespan=lifespan,
        description="The one door to IBKR",
    )
    install_ib_error_handlers(app)
    app.include_router(router())
    _publish_order_cap(app, settings.max_contracts_per_order)
    return app
