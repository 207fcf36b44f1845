"""Email status records in a JetStream KeyValue bucket, so they outlive the process.

The record is also what closes the gap between "Resend accepted" and "JetStream
ack": a redelivered message whose record already says `sent` is acked, not resent.
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from wheeldesk import subjects
from wheeldesk.schemas.common import utcnow
from wheeldesk.schemas.email import EmailStatus


class StatusStore:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext, ttl_days: float) -> StatusStore:
        try:
            kv = await js.key_value(subjects.KV_EMAIL_STATUS)
        except BucketNotFoundError:
            kv = await js.create_key_value(
                KeyValueConfig(
                    bucket=subjects.KV_EMAIL_STATUS,
                    history=1,
                    ttl=ttl_days * 24 * 3600.0,
                    storage=StorageType.FILE,
                )
            )
        return cls(kv)

    async def get(self, email_id: str) -> EmailStatus | None:
        try:
            entry = await self.kv.get(email_id)
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        return EmailStatus.model_validate_json(entry.value)

    async def create(self, status: EmailStatus) -> bool:
        """Store a new record; False when one already exists (a duplicate request)."""
        try:
            await self.kv.create(status.id, status.model_dump_json().encode())
        except KeyWrongLastSequenceError:
            return False
        return True

    async def put(self, status: EmailStatus) -> EmailStatus:
        status.updated = utcnow()
        await self.kv.put(status.id, status.model_dump_json().encode())
        return status
