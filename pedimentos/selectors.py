"""Database reads for runs and outcomes."""

from __future__ import annotations

from datetime import date, datetime, time

from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from .models import ServiceOutcome


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
    return list(queryset.order_by("service_id").values_list("service_id", flat=True))


def _start_of_day(value) -> datetime:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise ValidationError(f"Invalid date {value!r}; use YYYY-MM-DD.") from None
    return timezone.make_aware(datetime.combine(value, time.min))
