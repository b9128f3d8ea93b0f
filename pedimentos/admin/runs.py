"""Admin list and detail of runs, with a chart of the latest runs."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .. import selectors
from ..charts import runs_chart_svg
from ..models import Run, ServiceOutcome
from .base import ReadOnlyAdmin
from .display import format_duration, format_rate, short_datetime, status_badge

# Runs shown in the chart above the list.
CHART_RUNS = 30


def outcomes_url(**params) -> str:
    """Return the URL of the outcomes list filtered by ``params``."""
    url = reverse("admin:pedimentos_serviceoutcome_changelist")
    return f"{url}?{urlencode(params)}" if params else url


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    # The list fits a 1366 px wide window beside the filter sidebar. The finish
    # time, service type and workers are on the detail page only, and the
    # processed count links to the run's outcomes.
    list_display = [
        "run_number",
        "started",
        "status_badge",
        "pages",
        "processed_link",
        "succeeded",
        "failed_link",
        "success_rate_display",
        "duration",
        "started_by",
    ]
    list_display_links = ["run_number"]
    list_filter = ["status", "kind", "started_at"]
    date_hierarchy = "started_at"
    ordering = ["-started_at", "-id"]
    search_fields = ["started_by", "=id"]
    fieldsets = [
        (None, {"fields": [
            "status_badge", "kind", "started_by", "message", "outcomes_link",
        ]}),
        (_("Counts"), {"fields": [
            "processed", "succeeded", "failed", "skipped", "success_rate_display",
            "failure_causes",
        ]}),
        (_("Timing"), {"fields": [
            "started_at", "snapshot_at", "finished_at", "duration", "heartbeat_at",
        ]}),
        (_("Scope"), {"fields": [
            "start_page", "end_page", "pages_processed", "page_size", "service_type",
            "workers", "host", "pid",
        ]}),
    ]
    readonly_fields = [
        "status_badge", "outcomes_link", "success_rate_display", "failure_causes",
        "duration",
    ]

    def changelist_view(self, request, extra_context=None):
        chart = runs_chart_svg(
            selectors.recent_runs(CHART_RUNS),
            link_for=lambda run: outcomes_url(run=run.pk),
        )
        extra_context = {**(extra_context or {}), "runs_chart": chart}
        return super().changelist_view(request, extra_context=extra_context)

    @admin.display(description=_("run"), ordering="id")
    def run_number(self, run: Run) -> str:
        return f"#{run.pk}"

    @admin.display(description=_("started at"), ordering="started_at")
    def started(self, run: Run) -> str:
        return short_datetime(run.started_at)

    @admin.display(description=_("finished at"), ordering="finished_at")
    def finished(self, run: Run) -> str:
        return short_datetime(run.finished_at)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, run: Run):
        return status_badge(run.status, run.get_status_display())

    @admin.display(description=_("pages"))
    def pages(self, run: Run) -> str:
        # Retry runs take a list of services, not pages, so the column shows
        # the kind of run instead.
        if run.kind == Run.Kind.RETRY:
            return run.get_kind_display()
        if run.start_page is None:
            return "–"
        return f"{run.start_page}–{run.end_page}"

    @admin.display(description=_("processed"), ordering="processed")
    def processed_link(self, run: Run):
        return format_html('<a href="{}">{}</a>', outcomes_url(run=run.pk), run.processed)

    @admin.display(description=_("failed"), ordering="failed")
    def failed_link(self, run: Run):
        if not run.failed:
            return "0"
        return format_html(
            '<a href="{}" class="pedimentos-failed">{}</a>',
            outcomes_url(run=run.pk, status__exact=ServiceOutcome.Status.FAILED),
            run.failed,
        )

    @admin.display(description=_("success rate"))
    def success_rate_display(self, run: Run) -> str:
        return format_rate(run.success_rate)

    @admin.display(description=_("duration"))
    def duration(self, run: Run) -> str:
        return format_duration(run.duration_seconds)

    @admin.display(description=_("outcomes"))
    def outcomes_link(self, run: Run):
        count = run.outcomes.count()
        text = ngettext(
            "List the %(count)d outcome of this run",
            "List the %(count)d outcomes of this run",
            count,
        ) % {"count": count}
        return format_html('<a href="{}">{}</a>', outcomes_url(run=run.pk), text)

    @admin.display(description=_("failures by cause"))
    def failure_causes(self, run: Run):
        rows = (
            run.outcomes.filter(status=ServiceOutcome.Status.FAILED)
            .order_by()
            .values("error_kind")
            .annotate(count=Count("id"))
            .order_by("-count")
        )
        labels = dict(ServiceOutcome.ErrorKind.choices)
        if not rows:
            return "–"
        return format_html(
            "<ul class='pedimentos-plain-list'>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}">{}: {}</a></li>',
                (
                    (
                        outcomes_url(
                            run=run.pk,
                            status__exact=ServiceOutcome.Status.FAILED,
                            error_kind__exact=row["error_kind"],
                        ),
                        labels.get(row["error_kind"], row["error_kind"] or "?"),
                        row["count"],
                    )
                    for row in rows
                ),
            ),
        )
