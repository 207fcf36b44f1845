"""`/v1/status`, `/v1/account`, `/v1/positions`: the connection to IBKR and what the account holds."""

from __future__ import annotations

from fastapi import APIRouter, Request
from wheeldesk.schemas.account import Account, Position
from wheeldesk.schemas.connection import ConnectionStatus

from gateway_bridge.routes import bridge_of

router = APIRouter()


@router.get("/status", response_model=ConnectionStatus, tags=["connection"])
async def status(request: Request) -> ConnectionStatus:
    session = bridge_of(request).session
    await session.refresh_clock(max_age=5.0)
    return session.current_status()


@router.get("/account", response_model=Account, tags=["account"])
async def account(request: Request) -> Account:
    return bridge_of(request).account.account()


@router.get("/positions", response_model=list[Position], tags=["account"])
async def positions(request: Request) -> list[Position]:
    return bridge_of(request).account.positions()
