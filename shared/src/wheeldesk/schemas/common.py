"""Types shared by every schema module."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class DataType(StrEnum):
    """IB's market data type: the trust level of every number shown."""

    LIVE = "live"
    FROZEN = "frozen"
    DELAYED = "delayed"
    DELAYED_FROZEN = "delayed-frozen"

    @property
    def ib_code(self) -> int:
        return {"live": 1, "frozen": 2, "delayed": 3, "delayed-frozen": 4}[self.value]

    @classmethod
    def from_ib(cls, code: int) -> DataType:
        return {1: cls.LIVE, 2: cls.FROZEN, 3: cls.DELAYED, 4: cls.DELAYED_FROZEN}[int(code)]


Right = Literal["P", "C"]
SecType = Literal["STK", "OPT"]


class StrictModel(BaseModel):
    """Request bodies: unknown fields are an error that names the field."""

    model_config = ConfigDict(extra="forbid")


class Event(BaseModel):
    """Envelope fields carried by every NATS payload."""

    schema_version: int = SCHEMA_VERSION
    event_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    ts: datetime = Field(default_factory=utcnow)


class ApiError(BaseModel):
    """The JSON body of every 4xx/5xx answer: a stable code and a human message."""

    code: str
    message: str
    field: str | None = None
    details: list[dict[str, object]] | None = None
