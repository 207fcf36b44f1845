"""The Flex import: the upload (capped while it streams), and the progress of a large one.

A report is read and checked in the request: one that cannot be imported is refused with
the reason and nothing is stored. One of a single batch is stored at once; a larger one is
stored in the background (`ledger.imports`) and the ledger page shows its progress, polling
`import_progress` with htmx as the signals page polls a scan.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from wheeldesk_web.ledger import imports, services
from wheeldesk_web.ledger.flex import MAX_BYTES, FlexError, parse_flex_records
from wheeldesk_web.ledger.models import FlexImport

TOO_LARGE = f"That file is larger than {MAX_BYTES // (1024 * 1024)} MB; nothing was stored."


class FlexUploadForm(forms.Form):
    file = forms.FileField(help_text="IBKR Flex Query trade report, XML, up to 20 MB.")


class CappedUploadHandler(FileUploadHandler):
    """Refuse a Flex upload larger than MAX_BYTES while the multipart body is parsed: by its
    announced length, and by the bytes actually received (a client may lie), instead of after
    the whole file has been spooled to disk and read into memory. (In front of the app,
    `wheeldesk_web.bodycap` already answers 413 to a body over the cap as it streams; this
    holds wherever the app is served without it.)"""

    received = 0
    announced_too_large = False

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):  # type: ignore[no-untyped-def]
        # Over the cap by its own account (the form's other fields are a few hundred bytes):
        # the first chunk of the file stops the parse.
        self.announced_too_large = bool(content_length and content_length > MAX_BYTES + 65536)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.announced_too_large or self.received > MAX_BYTES:
            self.request.flex_too_large = True  # type: ignore[attr-defined]
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


@csrf_exempt
@require_POST
def import_flex(request: HttpRequest) -> HttpResponse:
    # The cap must be in place before anything reads the body — CSRF's check reads
    # request.POST — so CSRF is checked after (csrf_protect below), as Django documents.
    request.upload_handlers.insert(0, CappedUploadHandler(request))
    return _import_flex(request)


@csrf_protect
def _import_flex(request: HttpRequest) -> HttpResponse:
    form = FlexUploadForm(request.POST, request.FILES)
    if getattr(request, "flex_too_large", False):
        messages.error(request, TOO_LARGE)
        return redirect("ledger:cycles")
    if not form.is_valid():
        messages.error(request, "Choose a Flex Query XML file to import.")
        return redirect("ledger:cycles")
    upload = form.cleaned_data["file"]
    if upload.size > MAX_BYTES:
        messages.error(request, TOO_LARGE)
        return redirect("ledger:cycles")
    try:
        records = parse_flex_records(upload.read())
        if not imports.in_background(records):
            total, added = services.store_flex(records)
    except FlexError as exc:
        messages.error(request, f"Import failed, nothing was stored: {exc}")
        return redirect("ledger:cycles")
    if imports.in_background(records):
        run = imports.start(records, request.user, upload.name or "")
        return redirect(f"{reverse('ledger:cycles')}?import={run.pk}")
    messages.success(request, imports.summary(total, added))
    return redirect("ledger:cycles")


def running_import(request: HttpRequest) -> FlexImport | None:
    """The user's import still being stored, for the ledger page's progress bar."""
    if not request.user.is_authenticated:
        return None
    imports.abandon_stale()
    return FlexImport.objects.filter(user=request.user, status=FlexImport.RUNNING).first()


def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """How far the import got (polled by the page); once it is done, back to the ledger
    with the outcome as a message."""
    imports.abandon_stale()
    run = get_object_or_404(FlexImport, pk=pk, user=request.user)
    if run.status == FlexImport.RUNNING:
        return render(request, "ledger/partials/import_progress.html", {"flex_import": run})
    if run.status == FlexImport.DONE:
        messages.success(request, imports.summary(run.total, run.added))
    else:
        messages.error(request, f"Import failed: {run.error}")
    url = reverse("ledger:cycles")
    if request.htmx:  # type: ignore[attr-defined]
        response = HttpResponse("")
        response["HX-Redirect"] = url
        return response
    return redirect(url)
