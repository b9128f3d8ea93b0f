"""Formatting shared by the admin pages: durations, status badges, hints."""

from __future__ import annotations

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..models import Run, ServiceOutcome

# Badge colors by status; a status not listed is shown in grey.
STATUS_COLORS = {
    Run.Status.RUNNING: "#1d5a96",
    Run.Status.COMPLETED: "#2f7a43",
    Run.Status.INTERRUPTED: "#b36b00",
    Run.Status.ABORTED: "#b3261e",
    Run.Status.ABANDONED: "#b3261e",
    ServiceOutcome.Status.SUCCEEDED: "#2f7a43",
    ServiceOutcome.Status.FAILED: "#b3261e",
    ServiceOutcome.Status.QUEUED: "#6b7278",
    ServiceOutcome.Status.SKIPPED: "#6b7278",
}

# Advice to operators for each error kind, in plain words.
ERROR_KIND_HINTS = {
    ServiceOutcome.ErrorKind.INVALID_DATA: _(
        "The service in the backend lacks a field or has a malformed one (pedimento, "
        "aduana, patente or RFC). Fix the service in the backend, then retry it."
    ),
    ServiceOutcome.ErrorKind.NO_CREDENTIALS: _(
        "The backend has no active VUCEM credentials for the importer's RFC. Add or "
        "activate them in the backend's VUCEM credentials list, then retry."
    ),
    ServiceOutcome.ErrorKind.AUTH_FAILED: _(
        "VUCEM rejected the RFC and web-service key. Renew or correct the key stored "
        "in the backend for this RFC, then retry."
    ),
    ServiceOutcome.ErrorKind.VUCEM_ERROR: _(
        "VUCEM answered but reported an error for this pedimento (for example, no "
        "information for the search). Check the pedimento's data; retrying only helps "
        "once VUCEM has the pedimento."
    ),
    ServiceOutcome.ErrorKind.SOAP_FAULT: _(
        "VUCEM returned a SOAP fault. The fault code and message below say why; it is "
        "often temporary on VUCEM's side, so retry later."
    ),
    ServiceOutcome.ErrorKind.TRANSPORT: _(
        "VUCEM or the backend could not be reached, timed out or returned a server "
        "error on every attempt. Retry once the service is up again."
    ),
    ServiceOutcome.ErrorKind.INVALID_REPLY: _(
        "VUCEM's reply could not be used (too large, unsafe or of the wrong shape). "
        "Retry later; if it persists, keep the message for the developers."
    ),
    ServiceOutcome.ErrorKind.BACKEND_REJECTED: _(
        "The backend rejected a request or returned data of an unexpected shape. "
        "Check the message and the backend's logs."
    ),
    ServiceOutcome.ErrorKind.UPLOAD_FAILED: _(
        "VUCEM's reply was received but the document upload to the backend failed. "
        "Retry once the backend accepts uploads again."
    ),
    ServiceOutcome.ErrorKind.UPDATE_FAILED: _(
        "The document was uploaded but marking the service in the backend failed. A "
        "retry only updates the state; it does not upload the document again."
    ),
    ServiceOutcome.ErrorKind.INTERNAL: _(
        "An unexpected error in this tool. Keep the message and the log for the "
        "developers; a retry may work if the cause was temporary."
    ),
}


def status_badge(value: str, label: str):
    """Return the status label as a colored badge."""
    color = STATUS_COLORS.get(value, "#6b7278")
    return format_html(
        '<span class="pedimentos-badge" style="background:{}">{}</span>', color, label
    )


def format_duration(seconds: float | None) -> str:
    """Format seconds for people: '12.3 s', '4 min 05 s', '2 h 03 min'."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_rate(rate: float | None) -> str:
    """Format a success percentage, or a dash when nothing ran."""
    if rate is None:
        return "–"
    return f"{rate:.1f} %"


def short_datetime(value) -> str:
    """Format a datetime in the local time zone as a short date and time."""
    if value is None:
        return "–"
    return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def outcome_count_text(outcomes: int, services: int) -> str:
    """Format a count of outcomes, adding the count of services when it differs.

    Retries record a new outcome for the same service, so 6 failed outcomes
    may be 3 services that failed twice each.
    """
    if outcomes == services:
        return str(outcomes)
    outcome_text = ngettext(
        "%(count)d outcome", "%(count)d outcomes", outcomes
    ) % {"count": outcomes}
    service_text = ngettext(
        "%(count)d service", "%(count)d services", services
    ) % {"count": services}
    return f"{outcome_text} ({service_text})"
