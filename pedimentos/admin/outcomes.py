"""Admin list and detail of service outcomes, with failures grouped by cause."""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin
from django.contrib.admin.views.main import PAGE_VAR
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from .. import selectors
from ..models import Run, ServiceOutcome
from .actions import retry_failed_services
from .base import ReadOnlyAdmin
from .display import (
    ERROR_KIND_HINTS,
    format_duration,
    outcome_count_text,
    short_datetime,
    status_badge,
)

# Runs offered in the sidebar's run filter; any run id works in the URL.
RUN_FILTER_CHOICES = 15
# Longest VUCEM message used as a filter link in the failures-by-cause box.
MAX_LINKED_MESSAGE = 500
# Characters of the error message shown in the list; the full text is in
# the cell's title attribute and on the detail page.
SHORT_ERROR_CHARS = 90


def full_pedimento(outcome: ServiceOutcome) -> str:
    """Return the pedimento as written on paper: 'aduana patente number'."""
    parts = [outcome.aduana, outcome.patente, outcome.pedimento_number]
    return " ".join(part for part in parts if part) or "–"


def backend_state_text(outcome: ServiceOutcome) -> str:
    """Describe in words the service state that the run left in the backend."""
    if not outcome.backend_updated:
        return _("No")
    if outcome.status == ServiceOutcome.Status.FAILED:
        return _("Yes: marked as failed in the backend")
    return _("Yes: marked as done")


class RunFilter(admin.SimpleListFilter):
    """Filter by run; the sidebar offers the latest runs."""

    title = _("run")
    parameter_name = "run"

    def lookups(self, request, model_admin):
        runs = list(Run.objects.order_by("-started_at", "-id")[:RUN_FILTER_CHOICES])
        selected = self.value()
        if selected and selected.isdigit() and all(str(r.pk) != selected for r in runs):
            runs += list(Run.objects.filter(pk=int(selected)))
        return [(str(run.pk), _run_label(run)) for run in runs]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(run_id=int(value))


def _run_label(run: Run) -> str:
    return f"#{run.pk} · {short_datetime(run.started_at)}"


class CurrentStateFilter(admin.SimpleListFilter):
    """Filter by the newest finished outcome of each row's service."""

    title = _("current state of the service")
    parameter_name = "now"

    def lookups(self, request, model_admin):
        return [
            ("still_failing", _("Still failing")),
            ("fixed", _("Succeeded since")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "still_failing":
            return queryset.filter(current_status=ServiceOutcome.Status.FAILED)
        if self.value() == "fixed":
            return queryset.filter(current_status=ServiceOutcome.Status.SUCCEEDED)
        return queryset


@admin.register(ServiceOutcome)
class ServiceOutcomeAdmin(ReadOnlyAdmin):
    # The list fits a 1366 px wide window beside the filter sidebar, with the
    # error columns right after the pedimento. The outcome id, attempts and
    # finish time are on the detail page only.
    list_display = [
        "service_id",
        "full_pedimento",
        "status_badge",
        "error_kind",
        "short_error",
        "rfc",
        "current_state",
        "run_link",
    ]
    list_display_links = ["service_id"]
    list_filter = [
        "status",
        "error_kind",
        CurrentStateFilter,
        RunFilter,
        "finished_at",
    ]
    search_fields = ["pedimento_number", "rfc", "=service_id", "aduana", "patente"]
    list_select_related = ["run"]
    list_per_page = 50
    date_hierarchy = "finished_at"
    actions = [retry_failed_services]
    fieldsets = [
        (_("Result"), {"fields": [
            "status_badge", "error_kind", "what_to_do", "error_code", "error_message",
            "current_state",
        ]}),
        (_("Service and pedimento"), {"fields": [
            "service_id", "pedimento_number", "aduana", "patente", "rfc",
            "organizacion", "pedimento_uuid", "service_type", "processing_type",
        ]}),
        (_("Attempts"), {"fields": [
            "attempts", "attempt_table", "worker", "started_at", "finished_at",
            "duration",
        ]}),
        (_("Reply and document"), {"fields": [
            "numero_operacion", "document_id", "reply_size", "reply_sha256",
            "backend_state",
        ]}),
        (_("Run"), {"fields": ["run_link", "page", "position"]}),
        (_("History of this service"), {"fields": ["history"]}),
    ]
    readonly_fields = [
        "status_badge", "what_to_do", "current_state", "attempt_table", "duration",
        "run_link", "history", "backend_state",
    ]

    def get_queryset(self, request):
        return (
            super().get_queryset(request)
            .annotate(current_status=selectors.latest_terminal_status())
        )

    def has_retry_failed_services_permission(self, request) -> bool:
        return request.user.has_perm("pedimentos.retry_failed_services")

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context=extra_context)
        if isinstance(response, TemplateResponse) and "cl" in (response.context_data or {}):
            changelist = response.context_data["cl"]
            response.context_data["failure_causes"] = _cause_rows(changelist)
        return response

    # --- columns and fields -------------------------------------------------

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, outcome: ServiceOutcome):
        return status_badge(outcome.status, outcome.get_status_display())

    @admin.display(description=_("pedimento"), ordering="pedimento_number")
    def full_pedimento(self, outcome: ServiceOutcome) -> str:
        return full_pedimento(outcome)

    @admin.display(description=_("error message"))
    def short_error(self, outcome: ServiceOutcome):
        message = outcome.error_message
        if not message:
            return "–"
        short = Truncator(message).chars(SHORT_ERROR_CHARS)
        if short == message:
            return message
        return format_html('<span title="{}">{}</span>', message, short)

    @admin.display(description=_("state updated in backend"))
    def backend_state(self, outcome: ServiceOutcome) -> str:
        return backend_state_text(outcome)

    @admin.display(description=_("what to do"))
    def what_to_do(self, outcome: ServiceOutcome) -> str:
        if outcome.status != ServiceOutcome.Status.FAILED:
            return "–"
        return ERROR_KIND_HINTS.get(outcome.error_kind, "–")

    @admin.display(description=_("now"), ordering="current_status")
    def current_state(self, outcome: ServiceOutcome):
        current = getattr(outcome, "current_status", None)
        if outcome.status != ServiceOutcome.Status.FAILED or current is None:
            return "–"
        if current == ServiceOutcome.Status.SUCCEEDED:
            return status_badge(current, _("Succeeded since"))
        return status_badge(current, _("Still failing"))

    @admin.display(description=_("run"), ordering="run")
    def run_link(self, outcome: ServiceOutcome):
        url = reverse("admin:pedimentos_run_change", args=[outcome.run_id])
        return format_html('<a href="{}">#{}</a>', url, outcome.run_id)

    @admin.display(description=_("duration"))
    def duration(self, outcome: ServiceOutcome) -> str:
        return format_duration(outcome.duration_seconds)

    @admin.display(description=_("attempt log"))
    def attempt_table(self, outcome: ServiceOutcome):
        entries = [e for e in outcome.attempt_log or [] if isinstance(e, dict)]
        if not entries:
            return "–"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    number,
                    _local_time(entry.get("at")),
                    format_duration(entry.get("seconds")),
                    entry.get("result", ""),
                )
                for number, entry in enumerate(entries, start=1)
            ),
        )
        return format_html(
            '<table class="pedimentos-table"><thead><tr><th>#</th><th>{}</th><th>{}</th>'
            "<th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("started at"), _("duration"), _("result"), rows,
        )

    @admin.display(description=_("outcomes"))
    def history(self, outcome: ServiceOutcome):
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>#{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:pedimentos_serviceoutcome_change", args=[other.pk]),
                    other.pk,
                    status_badge(other.status, other.get_status_display()),
                    other.run_id,
                    other.run.started_by or "–",
                    other.get_error_kind_display() or "–",
                    short_datetime(other.finished_at),
                )
                for other in selectors.service_history(outcome.service_id)
            ),
        )
        return format_html(
            '<table class="pedimentos-table"><thead><tr><th>{}</th><th>{}</th>'
            "<th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            _("outcome"), _("status"), _("run"), _("started by"), _("error kind"),
            _("finished at"), rows,
        )


def _local_time(text) -> str:
    """Show an ISO 8601 timestamp from the attempt log in local time."""
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        return str(text or "–")
    if timezone.is_naive(value):
        return str(text)
    return date_format(timezone.localtime(value), "Y-m-d H:i:s")


def _cause_rows(changelist) -> list[dict]:
    """Return the failures of the list's current filter, by cause, with links."""
    labels = dict(ServiceOutcome.ErrorKind.choices)
    remove = [PAGE_VAR, "error_code", "error_message", "error_kind__exact"]
    # Retries add outcomes for the same service, so each kind also counts
    # distinct services.
    services_by_kind = dict(
        changelist.queryset.filter(status=ServiceOutcome.Status.FAILED)
        .order_by()
        .values("error_kind")
        .annotate(services=Count("service_id", distinct=True))
        .values_list("error_kind", "services")
    )
    causes = []
    for cause in selectors.failure_causes(changelist.queryset):
        kind = cause["kind"]
        params = {"status__exact": ServiceOutcome.Status.FAILED, "error_kind__exact": kind}
        details = []
        for detail in cause["details"]:
            value = detail["value"]
            url = None
            if len(value) <= MAX_LINKED_MESSAGE:
                url = changelist.get_query_string(
                    {**params, detail["field"]: value}, remove=remove
                )
            details.append({"label": value, "count": detail["count"], "url": url})
        causes.append({
            "label": labels.get(kind, kind or _("(no error kind)")),
            "kind": kind,
            "count": cause["count"],
            "services": services_by_kind.get(kind, cause["count"]),
            "count_text": outcome_count_text(
                cause["count"], services_by_kind.get(kind, cause["count"])
            ),
            "url": changelist.get_query_string(params, remove=remove),
            "hint": ERROR_KIND_HINTS.get(kind, ""),
            "details": details,
        })
    return causes
