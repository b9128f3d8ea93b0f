"""The admin action that retries failed services, with a confirmation page."""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.translation import ngettext

from .. import retrying
from ..models import Run

logger = logging.getLogger(__name__)

CONFIRM_FIELD = "confirm_retry"


@admin.action(
    description=gettext_lazy("Retry selected failed services"),
    permissions=["retry_failed_services"],
)
def retry_failed_services(modeladmin, request, queryset):
    """Show what would be retried; once confirmed, retry it as a new run."""
    outcomes = list(queryset.select_related("run"))
    try:
        plan = retrying.retry_plan(outcomes)
    except ImproperlyConfigured as error:
        logger.error("Retry by %s not possible: %s", request.user.get_username(), error)
        modeladmin.message_user(request, _("Retry impossible: %(error)s") % {"error": error},
                                messages.ERROR)
        return None

    if request.POST.get(CONFIRM_FIELD) != "yes":
        return _confirmation_page(modeladmin, request, plan, outcomes)

    if plan.backend_error:
        logger.warning("Retry by %s not started: %s", request.user.get_username(),
                       plan.backend_error)
        modeladmin.message_user(request, plan.backend_error, messages.ERROR)
        return None
    if not plan.to_retry:
        modeladmin.message_user(
            request,
            _("Nothing to retry: all %(count)d selected outcomes were skipped.")
            % {"count": len(plan.skipped)},
            messages.WARNING,
        )
        return None

    started_by = retrying.started_by_admin(request.user)
    logger.info("%s retries services %s", started_by, plan.service_ids)
    try:
        started = retrying.retry_start(plan.service_ids, started_by=started_by)
    except ImproperlyConfigured as error:
        logger.error("Retry by %s not possible: %s", request.user.get_username(), error)
        modeladmin.message_user(request, _("Retry impossible: %(error)s") % {"error": error},
                                messages.ERROR)
        return None

    if started.in_background:
        return _report_background(modeladmin, request, plan, started)
    return _report_finished(modeladmin, request, plan, started.result.run)


def _confirmation_page(modeladmin, request, plan, outcomes):
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Retry failed services"),
        "subtitle": None,
        "opts": opts,
        "plan": plan,
        "selected_ids": [outcome.pk for outcome in outcomes],
        "action_name": "retry_failed_services",
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "confirm_field": CONFIRM_FIELD,
        "in_background": len(plan.to_retry) > retrying.BACKGROUND_RETRY_THRESHOLD,
        "background_threshold": retrying.BACKGROUND_RETRY_THRESHOLD,
        "started_by": retrying.started_by_admin(request.user),
        "media": modeladmin.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(
        request, "admin/pedimentos/serviceoutcome/retry_confirmation.html", context
    )


def _report_finished(modeladmin, request, plan, run: Run):
    counts = {
        "retried": run.outcomes.count(),
        "succeeded": run.succeeded,
        "failed": run.failed,
        "skipped": len(plan.skipped) + run.skipped,
        "run": run.pk,
    }
    text = ngettext(
        "Retried %(retried)d service in run %(run)s: %(succeeded)d succeeded, "
        "%(failed)d still failing, %(skipped)d skipped.",
        "Retried %(retried)d services in run %(run)s: %(succeeded)d succeeded, "
        "%(failed)d still failing, %(skipped)d skipped.",
        counts["retried"],
    ) % counts
    level = messages.SUCCESS
    if run.status != Run.Status.COMPLETED:
        level = messages.ERROR
        text += " " + _("The run ended as “%(status)s”: %(message)s") % {
            "status": run.get_status_display(),
            "message": run.message or "–",
        }
    elif run.failed:
        level = messages.WARNING
    changelist = reverse("admin:pedimentos_serviceoutcome_changelist")
    modeladmin.message_user(
        request,
        format_html('{} <a href="{}?{}">{}</a>', text, changelist,
                    urlencode({"run": run.pk}), _("Show the run's outcomes")),
        level,
    )
    return HttpResponseRedirect(f"{changelist}?{urlencode({'run': run.pk})}")


def _report_background(modeladmin, request, plan, started):
    runs = reverse("admin:pedimentos_run_changelist")
    query = urlencode({"kind__exact": Run.Kind.RETRY})
    text = ngettext(
        "Retrying %(retried)d service in the background (%(skipped)d skipped). The "
        "retry run shows as running in the runs list until it finishes.",
        "Retrying %(retried)d services in the background (%(skipped)d skipped). The "
        "retry run shows as running in the runs list until it finishes.",
        started.service_count,
    ) % {"retried": started.service_count, "skipped": len(plan.skipped)}
    modeladmin.message_user(
        request,
        format_html('{} <a href="{}?{}">{}</a>', text, runs, query, _("Show retry runs")),
        messages.INFO,
    )
    return HttpResponseRedirect(f"{runs}?{query}")
