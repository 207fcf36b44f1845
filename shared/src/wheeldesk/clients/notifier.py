"""The notifier's endpoints (`_Notifier`) and its async and sync clients."""

from __future__ import annotations

from wheeldesk.clients.transport import AsyncServiceClient, Call, SyncServiceClient
from wheeldesk.schemas.email import EmailAccepted, EmailRequest, EmailStatus


class _Notifier:
    """The notifier's endpoints, each defined once for both notifier clients."""

    @staticmethod
    def send(request: EmailRequest) -> Call[EmailAccepted]:
        """Idempotent by the request's `idempotency_key` (a repeat answers `duplicate`)."""
        return Call("POST", "/v1/emails", EmailAccepted.model_validate, body=request)

    @staticmethod
    def status(email_id: str) -> Call[EmailStatus]:
        return Call("GET", f"/v1/emails/{email_id}", EmailStatus.model_validate)


class NotifierClient(AsyncServiceClient):
    service = "notifier"

    async def send(self, request: EmailRequest) -> EmailAccepted:
        return await self._send(_Notifier.send(request))

    async def status(self, email_id: str) -> EmailStatus:
        return await self._send(_Notifier.status(email_id))


class SyncNotifierClient(SyncServiceClient):
    service = "notifier"

    def send(self, request: EmailRequest) -> EmailAccepted:
        return self._send(_Notifier.send(request))

    def status(self, email_id: str) -> EmailStatus:
        return self._send(_Notifier.status(email_id))
