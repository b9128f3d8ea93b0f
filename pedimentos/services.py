"""Database writes for runs, outcomes and claims.

Every row of ``Run``, ``ServiceOutcome`` and ``ServiceClaim`` is written
through these functions, so that the rules (one live claim per service,
counts that match the outcomes) live in one place.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from .logging import redact
from .models import Run, ServiceClaim, ServiceOutcome

logger = logging.getLogger(__name__)


def run_start(*, kind, service_type, workers, start_page=None, end_page=None,
              page_size=None, started_by="") -> Run:
    """Create a run in status ``running``."""
    now = timezone.now()
    return Run.objects.create(
        kind=kind,
        status=Run.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        service_type=service_type,
        workers=workers,
        start_page=start_page,
        end_page=end_page,
        page_size=page_size,
        started_by=started_by[:150],
        host=socket.gethostname()[:255],
        pid=os.getpid(),
    )


def run_heartbeat(run: Run) -> None:
    """Record that the run's process is alive."""
    Run.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())


def run_finish(run: Run, *, status: str, message: str = "", pages_processed=None) -> Run:
    """Close a run: set its status, end time and counts from its outcomes."""
    counts = run.outcomes.aggregate(
        succeeded=Count("id", filter=Q(status=ServiceOutcome.Status.SUCCEEDED)),
        failed=Count("id", filter=Q(status=ServiceOutcome.Status.FAILED)),
        skipped=Count("id", filter=Q(status=ServiceOutcome.Status.SKIPPED)),
    )
    run.status = status
    run.finished_at = timezone.now()
    run.succeeded = counts["succeeded"]
    run.failed = counts["failed"]
    run.skipped = counts["skipped"]
    run.processed = run.succeeded + run.failed
    if pages_processed is not None:
        run.pages_processed = pages_processed
    if message:
        run.message = redact(message)
    run.save()
    ServiceClaim.objects.filter(run=run).delete()
    return run


def runs_mark_abandoned(*, stale_after: timedelta) -> int:
    """Mark runs whose process died as abandoned and free their claims.

    A run is dead when its process is gone from this host, or when its
    heartbeat is older than ``stale_after`` (for runs on other hosts).
    """
    host = socket.gethostname()[:255]
    cutoff = timezone.now() - stale_after
    abandoned = 0
    for run in Run.objects.filter(status=Run.Status.RUNNING):
        if run.pid == os.getpid() and run.host == host:
            continue
        same_host_dead = run.host == host and run.pid and not _process_alive(run.pid)
        stale = run.heartbeat_at is None or run.heartbeat_at < cutoff
        if not (same_host_dead or stale):
            continue
        with transaction.atomic():
            run.outcomes.filter(status__in=[ServiceOutcome.Status.QUEUED, ServiceOutcome.Status.RUNNING]).update(
                status=ServiceOutcome.Status.SKIPPED,
                error_message="The run's process stopped before this service finished.",
                finished_at=timezone.now(),
            )
            run_finish(run, status=Run.Status.ABANDONED,
                       message="The process stopped without closing the run (killed or crashed).")
        abandoned += 1
        logger.warning("Run %s (pid %s on %s) was abandoned; its claims are released",
                       run.pk, run.pid, run.host)
    return abandoned


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def outcomes_queue(run: Run, rows: list[dict]) -> None:
    """Store part of the run's snapshot: one queued outcome per service.

    A service already queued for the run (seen on an earlier page because
    the list shifted while it was read) is left as it is.
    """
    objects = [ServiceOutcome(run=run, status=ServiceOutcome.Status.QUEUED, **row) for row in rows]
    ServiceOutcome.objects.bulk_create(objects, ignore_conflicts=True, batch_size=500)


# Columns of a service's earlier outcomes that processing needs.
HISTORY_FIELDS = (
    "id", "run_id", "status", "started_at", "finished_at", "document_id",
    "backend_updated", "reply_size", "reply_sha256", "numero_operacion",
)
# Earlier outcomes read per service; more than this many means a service
# retried for weeks, and the newest ones decide.
HISTORY_LIMIT = 50


@dataclass(frozen=True)
class ClaimResult:
    """The outcome of ``claim_acquire``."""

    # The reason the service must be skipped, or None when the claim was taken.
    skip_reason: str | None
    # The service's outcomes in other runs, newest first (empty when skipped).
    history: list = field(default_factory=list)


def claim_acquire(outcome: ServiceOutcome, *, lease_seconds: float) -> ClaimResult:
    """Claim the outcome's service for its run.

    The service must be skipped when another run has a live claim on it, or
    when another run recorded an outcome for it after this run started
    reading the pending list.
    """
    run = outcome.run
    now = timezone.now()
    claim = ServiceClaim(
        service_id=outcome.service_id, run=run, claimed_at=now,
        expires_at=now + timedelta(seconds=lease_seconds),
    )
    try:
        _insert_claim(claim)
    except IntegrityError:
        # Only a claim past its lease may be taken over.
        ServiceClaim.objects.filter(service_id=outcome.service_id, expires_at__lt=now).delete()
        try:
            _insert_claim(claim)
        except IntegrityError:
            holder = (
                ServiceClaim.objects.filter(service_id=outcome.service_id)
                .values_list("run_id", flat=True).first()
            )
            return ClaimResult(skip_reason=f"claimed by run {holder}")

    # Read other runs' outcomes only once the claim is taken. A run records
    # its outcome and releases its claim in one transaction, so an outcome
    # recorded just before this claim was taken is visible here. Read before
    # taking the claim, it could slip in between.
    history = list(
        ServiceOutcome.objects.filter(service_id=outcome.service_id)
        .exclude(pk=outcome.pk)
        .only(*HISTORY_FIELDS)
        .order_by("-id")[:HISTORY_LIMIT]
    )
    since = run.snapshot_at or run.started_at
    for earlier in history:
        handled_elsewhere = (
            earlier.run_id != run.pk
            and earlier.status in ServiceOutcome.TERMINAL_STATUSES
            and earlier.finished_at is not None
            and earlier.finished_at >= since
        )
        if handled_elsewhere:
            claim_release(outcome)
            return ClaimResult(
                skip_reason=f"already {earlier.status} in run {earlier.run_id} after this run read the list"
            )
    return ClaimResult(skip_reason=None, history=history)


def _insert_claim(claim: ServiceClaim) -> None:
    # A savepoint keeps a failed INSERT from breaking an enclosing
    # transaction (PostgreSQL) when the caller runs inside one.
    with transaction.atomic(savepoint=True):
        claim.save(force_insert=True)


def claim_release(outcome: ServiceOutcome) -> None:
    """Delete the run's claim on the outcome's service."""
    ServiceClaim.objects.filter(service_id=outcome.service_id, run_id=outcome.run_id).delete()


def outcome_start(outcome: ServiceOutcome, *, worker: str) -> None:
    """Mark an outcome as running in a worker."""
    outcome.status = ServiceOutcome.Status.RUNNING
    outcome.worker = worker[:64]
    outcome.started_at = timezone.now()
    outcome.save(update_fields=["status", "worker", "started_at"])


def outcome_save(outcome: ServiceOutcome, *, status: str, fields: dict) -> None:
    """Record an outcome's final status and details, and release its claim."""
    outcome.status = status
    outcome.finished_at = timezone.now()
    for name, value in fields.items():
        setattr(outcome, name, value)
    if outcome.error_message:
        outcome.error_message = redact(outcome.error_message)
    if outcome.error_message and len(outcome.error_message) > 4000:
        outcome.error_message = outcome.error_message[:4000] + "..."
    with transaction.atomic():
        outcome.save()
        claim_release(outcome)


def outcome_skip(outcome: ServiceOutcome, *, reason: str) -> None:
    """Record that the run did not process a service, and why."""
    outcome.status = ServiceOutcome.Status.SKIPPED
    outcome.error_message = reason
    outcome.finished_at = timezone.now()
    outcome.save(update_fields=["status", "error_message", "finished_at"])
