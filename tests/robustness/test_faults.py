"""Injected VUCEM and backend faults over real sockets: nothing lost, nothing doubled."""

import threading
import time

import pytest

from pedimentos.models import Run, ServiceOutcome
from pedimentos.sandbox import BackendFaults, VucemFaults
from tests.robustness.helpers import (
    DONE,
    FAILED,
    PENDING,
    assert_no_duplicate_documents,
    assert_outcomes_match_backend,
    assert_run_counts_match_backend,
    pedimento_of,
    run_pages,
)

pytestmark = pytest.mark.django_db(transaction=True)

# Expected error kinds of the seeded demo cases, besides "transport" when
# every attempt failed transiently first.
CASE_KINDS = {
    "wrong_key": "auth_failed",
    "inactive_only": "no_credentials",
    "unknown_to_vucem": "vucem_error",
    "pedimento_6_digits": "invalid_data",
    "patente_letter": "invalid_data",
    "aduana_null": "invalid_data",
}
READ_TIMEOUT = 0.3


def test_vucem_transient_mix(make_sandbox):
    # 30 % transient failures of every kind, plus 2 % SOAP faults and the
    # seeded permanent cases. A hang lasts longer than the read timeout.
    faults = VucemFaults(
        drop=0.06, hang=0.06, http_503=0.06, html_502=0.06, rate_limited=0.06,
        soap_fault=0.02, hang_seconds=3.0, retry_after_seconds=1,
    )
    sandbox = make_sandbox(
        services=45, importers=6, seed=51, default_mix=True, vucem=faults
    )
    service_ids = sandbox.backend.pending_ids()
    case_of = {i: case for case, ids in sandbox.cases.items() for i in ids}

    result = run_pages(sandbox, 1, 5, workers=4, vucem_read_timeout=READ_TIMEOUT)

    run = result.run
    assert run.status == Run.Status.COMPLETED
    assert run.outcomes.count() == 45
    outcomes = {o.service_id: o for o in run.outcomes.all()}
    for service_id in service_ids:
        outcome = outcomes[service_id]
        state = sandbox.backend.state_of(service_id)
        case = case_of.get(service_id)
        label = f"service {service_id} ({case or 'valid'}): {outcome.error_message}"
        if outcome.status == ServiceOutcome.Status.SUCCEEDED:
            assert case is None, label
            assert state == DONE, label
            continue
        assert outcome.status == ServiceOutcome.Status.FAILED, label
        assert state == FAILED, label
        assert outcome.backend_updated, label
        if outcome.error_kind == "transport":
            # Only transient failures, and every attempt was used.
            assert outcome.attempts == 3, label
            assert all(e["result"].startswith("transport:") for e in outcome.attempt_log)
        allowed = {"transport", "soap_fault"}
        if case is not None:
            # A drawn failure is sent before VUCEM checks the request,
            # unless the case stops the service before any VUCEM call.
            if CASE_KINDS[case] in ("invalid_data", "no_credentials"):
                allowed = set()
            allowed.add(CASE_KINDS[case])
        assert outcome.error_kind in allowed, label
    for case, kind in CASE_KINDS.items():
        for service_id in sandbox.cases.get(case, []):
            assert outcomes[service_id].status == ServiceOutcome.Status.FAILED

    # Every transient kind was injected and recovered from at least once.
    injected = sandbox.vucem.stats()["outcomes"]
    for kind in ("drop", "hang", "503", "html502", "429"):
        assert injected.get(kind, 0) > 0, kind
    retried_ok = [
        o for o in outcomes.values()
        if o.status == ServiceOutcome.Status.SUCCEEDED and o.attempts > 1
    ]
    assert retried_ok
    # A hang is cut by the read timeout and counted as a transient failure.
    timeouts = [
        entry
        for o in outcomes.values()
        for entry in o.attempt_log
        if "read timeout" in entry["result"]
    ]
    assert timeouts
    assert all(entry["result"].startswith("transport:") for entry in timeouts)
    assert all(entry["seconds"] < READ_TIMEOUT + 1.0 for entry in timeouts)
    # Permanent failures are never retried.
    for o in outcomes.values():
        if o.error_kind in ("auth_failed", "vucem_error", "soap_fault"):
            assert o.attempt_log[-1]["result"].startswith(o.error_kind)
        if o.error_kind in ("invalid_data", "no_credentials"):
            assert o.attempts == 0

    assert_no_duplicate_documents(sandbox)
    assert_run_counts_match_backend(run, sandbox)
    assert_outcomes_match_backend(sandbox, service_ids)
    for service_id in service_ids:
        if outcomes[service_id].error_kind == "invalid_data":
            assert sandbox.vucem.requests_by_pedimento[pedimento_of(sandbox, service_id)] == 0


def test_backend_5xx_on_uploads_and_updates(make_sandbox):
    # 80 services, so that at 10 % each kind of fault is injected at least
    # once in all but about 1 in 4,000 runs (0.9 ** 80).
    sandbox = make_sandbox(
        services=80, importers=3, seed=52,
        backend=BackendFaults(upload_5xx=0.1, update_5xx=0.1),
    )
    service_ids = sandbox.backend.pending_ids()

    result = run_pages(sandbox, 1, 8, workers=4)

    counts = sandbox.backend.request_counts
    assert counts["injected upload_5xx"] > 0
    assert counts["injected update_5xx"] > 0
    assert result.run.status == Run.Status.COMPLETED
    assert result.run.outcomes.count() == 80
    assert_no_duplicate_documents(sandbox)
    assert_run_counts_match_backend(result.run, sandbox)
    assert_outcomes_match_backend(sandbox, service_ids)
    # Every service ends in a recorded state, whatever the faults did.
    assert result.run.succeeded + result.run.failed == 80
    assert sandbox.vucem.request_count == 80


def down_for_a_while(sandbox, *, after_documents, seconds):
    """Take the backend down once it stores some documents, then bring it back."""

    def toggle():
        deadline = time.monotonic() + 30
        while len(sandbox.backend.documents) < after_documents:
            if time.monotonic() > deadline:
                return
            time.sleep(0.005)
        sandbox.backend.set_down(True)
        time.sleep(seconds)
        sandbox.backend.set_down(False)

    thread = threading.Thread(target=toggle, name="backend-outage")
    thread.start()
    return thread


@pytest.mark.parametrize("down_mode", ["503", "close"])
def test_backend_down_mid_run(make_sandbox, down_mode):
    sandbox = make_sandbox(
        services=30, importers=3, seed=53,
        vucem=VucemFaults(latency=0.02),
        backend=BackendFaults(down_mode=down_mode),
    )
    service_ids = sandbox.backend.pending_ids()
    outage = down_for_a_while(sandbox, after_documents=5, seconds=0.4)

    first = run_pages(sandbox, 1, 3, workers=3)
    outage.join()

    assert sandbox.backend.request_counts["down"] > 0
    assert first.run.status == Run.Status.COMPLETED
    failed = list(first.run.outcomes.filter(status=ServiceOutcome.Status.FAILED))
    assert failed
    # A service whose state could not be written stays pending in the
    # backend, and the error kind records which step failed.
    unwritten = [o for o in failed if not o.backend_updated]
    assert unwritten
    for outcome in failed:
        assert outcome.error_kind in ("upload_failed", "update_failed", "transport")
        expected = FAILED if outcome.backend_updated else PENDING
        assert sandbox.backend.state_of(outcome.service_id) == expected
    assert_run_counts_match_backend(first.run, sandbox)
    assert_outcomes_match_backend(sandbox, service_ids)
    assert_no_duplicate_documents(sandbox)
    uploaded = {o.service_id for o in unwritten if o.document_id}
    vucem_before = {i: sandbox.vucem.requests_by_pedimento[pedimento_of(sandbox, i)]
                    for i in uploaded}

    second = run_pages(sandbox, 1, 3, workers=3)

    assert {o.service_id for o in second.run.outcomes.all()} == {
        o.service_id for o in unwritten
    }
    assert second.run.failed == 0
    for service_id in service_ids:
        assert sandbox.backend.state_of(service_id) in (DONE, FAILED)
    for service_id in uploaded:
        # Only the state was missing: no second VUCEM call, no second upload.
        pedimento = pedimento_of(sandbox, service_id)
        assert sandbox.vucem.requests_by_pedimento[pedimento] == vucem_before[service_id]
    assert_no_duplicate_documents(sandbox)
    assert_run_counts_match_backend(second.run, sandbox)
    assert_outcomes_match_backend(sandbox, service_ids)
