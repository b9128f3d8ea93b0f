"""Database reads for runs and outcomes."""

from __future__ import annotations

from datetime import date, datetime, time

from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone

from .models import Run, ServiceClaim, ServiceOutcome


def latest_outcomes():
    """Return the newest terminal outcome of each backend service."""
    newest = (
        ServiceOutcome.objects.filter(service_id=OuterRef("service_id"), status__in=ServiceOutcome.TERMINAL_STATUSES)
        .order_by("-finished_at", "-id")
        .values("id")[:1]
    )
    return ServiceOutcome.objects.filter(id=Subquery(newest))


def failed_service_ids(*, run_id=None, error_kind=None, since=None) -> list[int]:
    """Return the ids of services whose latest outcome failed, filtered as given."""
    queryset = failed_outcomes(run_id=run_id, error_kind=error_kind, since=since)
    return list(queryset.values_list("service_id", flat=True))


def failed_outcomes(*, run_id=None, error_kind=None, since=None):
    """Return the latest outcome of each service whose latest outcome failed, filtered as given."""
    queryset = latest_outcomes().filter(status=ServiceOutcome.Status.FAILED)
    if run_id is not None:
        queryset = queryset.filter(run_id=run_id)
    if error_kind:
        valid = set(ServiceOutcome.ErrorKind.values)
        if error_kind not in valid:
            raise ValidationError(
                f"Unknown error kind {error_kind!r}; use one of {', '.join(sorted(valid))}."
            )
        queryset = queryset.filter(error_kind=error_kind)
    if since:
        queryset = queryset.filter(finished_at__gte=_start_of_day(since))
    return queryset.order_by("service_id")


def _start_of_day(value) -> datetime:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise ValidationError(f"Invalid date {value!r}; use YYYY-MM-DD.") from None
    return timezone.make_aware(datetime.combine(value, time.min))


def latest_terminal_status():
    """Return a subquery of the newest terminal status of the row's service.

    Annotate a ``ServiceOutcome`` queryset with it to show whether a failure
    was fixed by a later run.
    """
    return Subquery(
        ServiceOutcome.objects.filter(
            service_id=OuterRef("service_id"),
            status__in=ServiceOutcome.TERMINAL_STATUSES,
        )
        .order_by("-finished_at", "-id")
        .values("status")[:1]
    )


def later_success(outcome: ServiceOutcome):
    """Return the newest success of the outcome's service after it, or None."""
    queryset = ServiceOutcome.objects.filter(
        service_id=outcome.service_id, status=ServiceOutcome.Status.SUCCEEDED
    ).exclude(pk=outcome.pk)
    if outcome.finished_at is not None:
        queryset = queryset.filter(finished_at__gt=outcome.finished_at)
    return queryset.order_by("-finished_at", "-id").first()


def service_history(service_id: int):
    """Return every outcome of one backend service, newest first."""
    return (
        ServiceOutcome.objects.filter(service_id=service_id)
        .select_related("run")
        .order_by("-id")
    )


def runs_in_flight_for(service_ids) -> dict[int, int]:
    """Map each given service id that a run is processing now to that run's id.

    A service is in flight when a run has a live claim on it, or when a
    running run still has it queued or running.
    """
    service_ids = list(service_ids)
    now = timezone.now()
    in_flight: dict[int, int] = {}
    pending = ServiceOutcome.objects.filter(
        service_id__in=service_ids,
        status__in=[ServiceOutcome.Status.QUEUED, ServiceOutcome.Status.RUNNING],
        run__status=Run.Status.RUNNING,
    ).values_list("service_id", "run_id")
    for service_id, run_id in pending:
        in_flight.setdefault(service_id, run_id)
    claims = ServiceClaim.objects.filter(
        service_id__in=service_ids, expires_at__gt=now
    ).values_list("service_id", "run_id")
    for service_id, run_id in claims:
        in_flight[service_id] = run_id
    return in_flight


def failure_causes(queryset) -> list[dict]:
    """Count the failed outcomes of ``queryset`` per error kind and detail.

    Return one dict per error kind, largest first, with ``kind``, ``count``
    and ``details``: a list of ``{"field", "value", "count"}`` that splits
    the kind by fault code or, for VUCEM business errors, by VUCEM's
    message. Blank codes or messages are not listed as details.
    """
    failed = queryset.filter(status=ServiceOutcome.Status.FAILED)
    kinds = (
        failed.order_by()
        .values("error_kind")
        .annotate(count=Count("id"))
        .order_by("-count", "error_kind")
    )
    causes = []
    for row in kinds:
        kind = row["error_kind"]
        field = _detail_field(kind)
        details = []
        if field is not None:
            details = [
                {"field": field, "value": detail[field], "count": detail["count"]}
                for detail in (
                    failed.filter(error_kind=kind)
                    .exclude(**{field: ""})
                    .order_by()
                    .values(field)
                    .annotate(count=Count("id"))
                    .order_by("-count", field)[:MAX_CAUSE_DETAILS]
                )
            ]
        causes.append({"kind": kind, "count": row["count"], "details": details})
    return causes


# Most fault codes or messages listed under one error kind.
MAX_CAUSE_DETAILS = 10


def _detail_field(kind: str) -> str | None:
    if kind in (ServiceOutcome.ErrorKind.SOAP_FAULT, ServiceOutcome.ErrorKind.AUTH_FAILED):
        return "error_code"
    if kind == ServiceOutcome.ErrorKind.VUCEM_ERROR:
        return "error_message"
    return None


def recent_runs(limit: int) -> list[Run]:
    """Return the newest ``limit`` runs, oldest first (the chart's order)."""
    return list(reversed(Run.objects.order_by("-started_at", "-id")[:limit]))
