"""Crashes and lost answers: the next run finishes the work without repeating it."""

import dataclasses
import signal

import pytest

from pedimentos.models import Run, ServiceOutcome
from pedimentos.sandbox import BackendFaults, VucemFaults
from tests.robustness.helpers import (
    DONE,
    PENDING,
    assert_no_duplicate_documents,
    assert_outcomes_match_backend,
    assert_run_counts_match_backend,
    documents_per_pedimento,
    pedimento_of,
    run_pages,
    start_command,
    uuid_of,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


def set_backend_faults(sandbox, **changes):
    sandbox.backend.faults = dataclasses.replace(sandbox.backend.faults, **changes)


def test_kill_during_uploads_then_rerun(make_sandbox):
    # Every upload is stored at once but answered 1 s later, so killing the
    # command right after a document appears leaves uploads that reached the
    # backend while the process never learned their document id.
    sandbox = make_sandbox(
        services=30,
        importers=3,
        seed=41,
        vucem=VucemFaults(latency=0.05),
        backend=BackendFaults(upload_slow_seconds=1.0),
    )
    service_ids = sandbox.backend.pending_ids()
    command = start_command(sandbox, "1", "3", "--workers", "3")
    try:
        assert wait_for(lambda: len(sandbox.backend.documents) >= 4, timeout=30)
    finally:
        command.send_signal(signal.SIGKILL)
        command.communicate(timeout=30)
    assert command.returncode == -signal.SIGKILL

    uploaded_before = set(documents_per_pedimento(sandbox))
    done_before = {i for i in service_ids if sandbox.backend.state_of(i) == DONE}
    killed = Run.objects.get()
    assert killed.status == Run.Status.RUNNING
    assert len(done_before) < 30
    # Uploads whose answer the killed process never read.
    unconfirmed = [
        i for i in service_ids
        if uuid_of(sandbox, i) in uploaded_before and i not in done_before
    ]
    assert unconfirmed

    set_backend_faults(sandbox, upload_slow_seconds=0.0)
    result = run_pages(sandbox, 1, 3, workers=3)

    killed.refresh_from_db()
    assert killed.status == Run.Status.ABANDONED
    assert killed.outcomes.filter(status__in=["queued", "running"]).count() == 0
    assert result.run.status == Run.Status.COMPLETED
    assert all(sandbox.backend.state_of(i) == DONE for i in service_ids)
    assert all(n == 1 for n in documents_per_pedimento(sandbox).values())
    assert len(sandbox.backend.documents) == 30
    for service_id in unconfirmed:
        pedimento = pedimento_of(sandbox, service_id)
        assert sandbox.vucem.requests_by_pedimento[pedimento] == 1, service_id
    assert_outcomes_match_backend(sandbox, service_ids)


def test_update_failure_then_state_only(make_sandbox):
    sandbox = make_sandbox(
        services=10, importers=2, seed=42, backend=BackendFaults(update_5xx=1.0)
    )
    service_ids = sandbox.backend.pending_ids()

    first = run_pages(sandbox, 1, 1)

    assert first.run.failed == 10
    assert first.errors_by_kind == {"update_failed": 10}
    assert all(sandbox.backend.state_of(i) == PENDING for i in service_ids)
    assert len(sandbox.backend.documents) == 10
    assert all(
        outcome.document_id and not outcome.backend_updated
        for outcome in first.run.outcomes.all()
    )
    assert_run_counts_match_backend(first.run, sandbox)
    vucem_requests = sandbox.vucem.request_count
    uploads = sandbox.backend.request_counts["POST document"]

    set_backend_faults(sandbox, update_5xx=0.0)
    second = run_pages(sandbox, 1, 1)

    assert second.run.succeeded == 10
    assert all(sandbox.backend.state_of(i) == DONE for i in service_ids)
    assert sandbox.vucem.request_count == vucem_requests
    assert sandbox.backend.request_counts["POST document"] == uploads
    assert len(sandbox.backend.documents) == 10
    for outcome in second.run.outcomes.all():
        previous = first.run.outcomes.get(service_id=outcome.service_id)
        assert outcome.document_id == previous.document_id
    assert_run_counts_match_backend(second.run, sandbox)
    assert_outcomes_match_backend(sandbox, service_ids)


def test_upload_timeout_checked_before_retry(make_sandbox):
    # The backend stores each upload and answers after the client's read
    # timeout, so the client cannot know whether its upload arrived.
    sandbox = make_sandbox(
        services=6, importers=2, seed=43,
        backend=BackendFaults(upload_slow_seconds=0.6),
    )
    service_ids = sandbox.backend.pending_ids()

    result = run_pages(sandbox, 1, 1, api_read_timeout=0.2)

    assert result.run.succeeded == 6
    assert sandbox.backend.request_counts["POST document"] == 6
    assert sandbox.backend.request_counts["GET documents"] >= 6
    assert len(sandbox.backend.documents) == 6
    assert_no_duplicate_documents(sandbox)
    for outcome in result.run.outcomes.all():
        stored = [d for d in sandbox.backend.documents if str(d["id"]) == outcome.document_id]
        assert len(stored) == 1
        assert stored[0]["pedimento"] == outcome.pedimento_uuid
    assert_outcomes_match_backend(sandbox, service_ids)


def test_upload_timeout_not_stored_uploads_again(make_sandbox):
    # Control case for the check above: a 5xx is answered before the upload
    # is stored, so the retry must send the document again.
    sandbox = make_sandbox(
        services=6, importers=2, seed=44, backend=BackendFaults(upload_5xx=0.4)
    )

    result = run_pages(sandbox, 1, 1)

    assert result.run.succeeded == 6
    assert sandbox.backend.request_counts["injected upload_5xx"] > 0
    assert len(sandbox.backend.documents) == 6
    assert_no_duplicate_documents(sandbox)
    assert ServiceOutcome.objects.filter(error_kind="upload_failed").count() == 0
