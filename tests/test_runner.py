"""End-to-end runs over real loopback HTTP against the sandbox."""

import logging
import threading

import pytest
from django.core import serializers

from pedimentos.models import Run, ServiceOutcome
from pedimentos.runner import Runner
from tests.conftest import sandbox_config
from tests.robustness.helpers import DONE, FAILED, PENDING, pedimento_of, run_pages

pytestmark = pytest.mark.django_db(transaction=True)



def test_shifting_pages_processed_exactly_once(make_sandbox):
    sandbox = make_sandbox(services=60, importers=4, seed=11)
    at_start = sandbox.backend.pending_ids(service_type=3)
    expected = set(at_start[:30])
    added = []
    lock = threading.Lock()

    def add_newer(service_id, estado):
        # Other systems add new services at the top while the run works.
        with lock:
            added.append(sandbox.backend.add_service()["id"])

    sandbox.backend.on_update = add_newer
    result = run_pages(sandbox, 1, 3, workers=2)

    processed = set(result.run.outcomes.values_list("service_id", flat=True))
    assert processed == expected
    assert result.run.succeeded == 30
    assert len(added) == 30
    for service_id in expected:
        assert sandbox.backend.state_of(service_id) == DONE
        assert sandbox.vucem.requests_by_pedimento[pedimento_of(sandbox, service_id)] == 1
    for service_id in set(at_start[30:]) | set(added):
        assert sandbox.backend.state_of(service_id) == PENDING
    uploaded = [doc["pedimento"] for doc in sandbox.backend.documents]
    assert len(uploaded) == len(set(uploaded)) == 30


def test_transient_failures_recovered(make_sandbox):
    sandbox = make_sandbox(services=10, importers=2, seed=3)
    first = sandbox.backend.pending_ids(service_type=3)[0]
    pedimento = pedimento_of(sandbox, first)
    sandbox.vucem.script(pedimento, ["503", "html502", "ok"])

    result = run_pages(sandbox, 1, 1)

    outcome = result.run.outcomes.get(service_id=first)
    assert outcome.status == ServiceOutcome.Status.SUCCEEDED
    assert outcome.attempts == 3
    assert len(outcome.attempt_log) == 3
    assert sandbox.vucem.requests_by_pedimento[pedimento] == 3
    assert sandbox.backend.state_of(first) == DONE


def test_transient_failures_exhaust_retries(make_sandbox):
    sandbox = make_sandbox(services=10, importers=2, seed=3)
    first = sandbox.backend.pending_ids(service_type=3)[0]
    pedimento = pedimento_of(sandbox, first)
    sandbox.vucem.script(pedimento, ["503", "503", "503", "ok"])

    result = run_pages(sandbox, 1, 1)

    outcome = result.run.outcomes.get(service_id=first)
    assert outcome.status == ServiceOutcome.Status.FAILED
    assert outcome.error_kind == "transport"
    assert sandbox.vucem.requests_by_pedimento[pedimento] == 3
    assert sandbox.backend.state_of(first) == FAILED


@pytest.mark.parametrize(
    "script, kind",
    [("auth", "auth_failed"), ("business", "vucem_error"), ("fault", "soap_fault"),
     ("doctype", "invalid_reply")],
)
def test_permanent_failure_called_once(make_sandbox, script, kind):
    sandbox = make_sandbox(services=10, importers=2, seed=5)
    first = sandbox.backend.pending_ids(service_type=3)[0]
    pedimento = pedimento_of(sandbox, first)
    sandbox.vucem.script(pedimento, [script, "ok", "ok"])

    result = run_pages(sandbox, 1, 1)

    outcome = result.run.outcomes.get(service_id=first)
    assert outcome.status == ServiceOutcome.Status.FAILED
    assert outcome.error_kind == kind
    assert outcome.attempts == 1
    assert outcome.error_message
    assert sandbox.vucem.requests_by_pedimento[pedimento] == 1
    assert sandbox.backend.state_of(first) == FAILED
    assert result.run.failed == 1
    assert result.run.succeeded == 9


def test_one_credentials_fetch_per_rfc(make_sandbox):
    sandbox = make_sandbox(services=40, importers=3, seed=8)
    rfcs = {s["pedimento"]["contribuyente"] for s in sandbox.backend.services.values()}

    result = run_pages(sandbox, 1, 4, workers=8)

    assert result.run.succeeded == 40
    assert sandbox.backend.request_counts["GET credentials"] == len(rfcs) == 3


def test_invalid_data_fails_without_soap_call(make_sandbox):
    sandbox = make_sandbox(services=5, importers=1, seed=2)
    bad = sandbox.backend.add_service(pedimento="50067")  # 5 digits
    before = sandbox.vucem.request_count

    result = run_pages(sandbox, 1, 1)

    outcome = result.run.outcomes.get(service_id=bad["id"])
    assert outcome.status == ServiceOutcome.Status.FAILED
    assert outcome.error_kind == "invalid_data"
    assert "50067" in outcome.error_message
    assert sandbox.vucem.request_count - before == 5
    assert sandbox.backend.state_of(bad["id"]) == FAILED


def test_no_credentials_fails_without_soap_call(make_sandbox):
    sandbox = make_sandbox(services=4, importers=1, seed=2)
    rfc = next(iter(sandbox.backend.services.values()))["pedimento"]["contribuyente"]
    sandbox.backend.set_credentials(rfc, [])

    result = run_pages(sandbox, 1, 1)

    assert result.run.failed == 4
    assert set(result.errors_by_kind) == {"no_credentials"}
    assert sandbox.vucem.request_count == 0


def test_eight_workers_on_database(make_sandbox):
    sandbox = make_sandbox(services=80, importers=5, seed=21)

    result = run_pages(sandbox, 1, 8, workers=8)

    assert result.run.status == Run.Status.COMPLETED
    assert result.run.succeeded == 80
    assert result.run.outcomes.count() == 80
    workers = set(result.run.outcomes.values_list("worker", flat=True))
    assert len(workers) > 1
    assert all(name.startswith("PedimentoWorker-") for name in workers)


def test_token_rejected_aborts_before_changes(make_sandbox):
    sandbox = make_sandbox(services=10, importers=1, seed=4)
    result = run_pages(sandbox, 1, 1, api_token="wrong-token-1234")

    assert result.run.status == Run.Status.ABORTED
    assert "API_TOKEN" in result.run.message
    assert result.run.outcomes.count() == 0
    assert all(sandbox.backend.state_of(i) == PENDING for i in sandbox.backend.services)
    assert sandbox.vucem.request_count == 0


def test_secrets_absent_from_logs_and_database(make_sandbox, caplog):
    sandbox = make_sandbox(services=12, importers=2, seed=9)
    first = sandbox.backend.pending_ids(service_type=3)[0]
    sandbox.vucem.script(pedimento_of(sandbox, first), ["auth"])
    passwords = {
        entry["password"]
        for entries in sandbox.backend.credentials.values()
        for entry in entries
    }
    assert passwords

    for name in ("", "pedimentos", "urllib3", "requests", "zeep"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    with caplog.at_level(logging.DEBUG):
        run_pages(sandbox, 1, 2)

    dump = serializers.serialize("json", [*Run.objects.all(), *ServiceOutcome.objects.all()])
    for secret in [sandbox.api_token, *passwords]:
        assert secret not in caplog.text
        assert secret not in dump


def test_backend_unreachable_aborts(make_sandbox):
    sandbox = make_sandbox(services=5, importers=1, seed=4)
    result = run_pages(sandbox, 1, 2, api_url="http://127.0.0.1:1/api/v1")

    assert result.run.status == Run.Status.ABORTED
    assert "unreachable" in result.run.message
    assert result.run.outcomes.count() == 0


def test_range_past_end_reads_only_needed_pages(make_sandbox):
    sandbox = make_sandbox(services=25, importers=2, seed=4)

    result = run_pages(sandbox, 1, 100000, workers=4)

    assert result.run.status == Run.Status.COMPLETED
    assert result.run.succeeded == 25
    # 25 services at 10 per page: pages 1, 2 and 3 exist.
    assert sandbox.backend.request_counts["GET services"] == 3
    assert result.run.pages_processed == 3


def test_start_page_past_end_does_nothing(make_sandbox):
    sandbox = make_sandbox(services=5, importers=1, seed=4)

    result = run_pages(sandbox, 4, 9)

    assert result.run.status == Run.Status.COMPLETED
    assert result.run.outcomes.count() == 0
    assert sandbox.backend.request_counts["GET services"] == 1


def test_vucem_unreachable_stops_after_limit(make_sandbox):
    sandbox = make_sandbox(services=30, importers=2, seed=4)

    result = run_pages(sandbox, 1, 3, workers=2, vucem_url="http://127.0.0.1:1",
                       vucem_max_consecutive_failures=4)

    assert result.run.status == Run.Status.ABORTED
    assert "VUCEM could not be reached for 4 services in a row" in result.run.message
    # Services already in their last attempt when the limit is reached may
    # still fail: at most one per other pool thread (two per worker).
    assert 4 <= result.run.failed <= 4 + 2 * 2 - 1
    assert set(result.errors_by_kind) == {"transport"}
    states = [sandbox.backend.state_of(i) for i in sandbox.backend.services]
    assert states.count(FAILED) == result.run.failed
    assert states.count(PENDING) == 30 - result.run.failed


class CountingVucem:
    """Wrap the real client and record how many calls are in flight at once."""

    def __init__(self, client):
        self.client = client
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def consultar_pedimento_completo(self, query, credentials):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self.client.consultar_pedimento_completo(query, credentials)
        finally:
            with self.lock:
                self.in_flight -= 1

    def close(self):
        self.client.close()


def test_vucem_calls_limited_to_workers(make_sandbox):
    from pedimentos.sandbox import VucemFaults
    from pedimentos.vucem import VucemClient

    sandbox = make_sandbox(services=40, importers=2, seed=6, vucem=VucemFaults(latency=0.05))
    config = sandbox_config(sandbox)
    vucem = CountingVucem(VucemClient(base_url=config.vucem_url, connect_timeout=5,
                                      read_timeout=5, max_reply_bytes=10**7, tls_security_level=1))
    runner = Runner(config, workers=2, service_type=3, vucem=vucem)

    result = runner.run_pages(1, 4, started_by="test")

    assert result.run.succeeded == 40
    assert vucem.max_in_flight == 2
