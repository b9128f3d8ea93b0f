"""Overlapping runs over the same pages split the work and never repeat it."""

import json
import os
import subprocess
import threading
import time as time_module
from datetime import timedelta

import pytest
from django.utils import timezone

from pedimentos.models import Run, ServiceClaim, ServiceOutcome
from pedimentos.sandbox import BackendFaults, VucemFaults
from tests.robustness.helpers import (
    DONE,
    PENDING,
    PYTHON,
    assert_no_duplicate_documents,
    assert_outcomes_match_backend,
    pedimento_of,
    run_pages,
    start_command,
)

pytestmark = pytest.mark.django_db(transaction=True)


def assert_each_service_once(sandbox, service_ids):
    for service_id in service_ids:
        assert sandbox.backend.state_of(service_id) == DONE, service_id
        requests = sandbox.vucem.requests_by_pedimento[pedimento_of(sandbox, service_id)]
        assert requests == 1, f"service {service_id}: {requests} VUCEM requests"
    assert_no_duplicate_documents(sandbox)
    assert_outcomes_match_backend(sandbox, service_ids)


def test_two_runners_threads_split_work(make_sandbox):
    sandbox = make_sandbox(
        services=40, importers=3, seed=31, vucem=VucemFaults(latency=0.05)
    )
    service_ids = sandbox.backend.pending_ids()
    barrier = threading.Barrier(2)
    results = []

    def run():
        barrier.wait()
        results.append(run_pages(sandbox, 1, 4, workers=3))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(results) == 2
    assert_each_service_once(sandbox, service_ids)
    first, second = (result.run for result in results)
    assert first.succeeded + second.succeeded == 40
    assert first.succeeded > 0
    assert second.succeeded > 0
    # Both runs saw the same services, so the skips prove they competed.
    overlap = set(first.outcomes.values_list("service_id", flat=True)) & set(
        second.outcomes.values_list("service_id", flat=True)
    )
    assert overlap
    assert first.skipped + second.skipped == len(overlap)
    assert ServiceClaim.objects.count() == 0


def test_staggered_runners_never_repeat(make_sandbox):
    # A later run reads its pages while an earlier one is finishing the
    # same services: what the earlier run finishes meanwhile must not be
    # processed again.
    sandbox = make_sandbox(
        services=60, importers=3, seed=37,
        vucem=VucemFaults(latency=0.02), backend=BackendFaults(latency=0.02),
    )
    service_ids = sandbox.backend.pending_ids()
    results = []
    lock = threading.Lock()

    def run(workers):
        result = run_pages(sandbox, 1, 6, workers=workers)
        with lock:
            results.append(result)

    threads = []
    for workers in (4, 2, 2):
        thread = threading.Thread(target=run, args=(workers,))
        thread.start()
        threads.append(thread)
        time_module.sleep(0.3)
    for thread in threads:
        thread.join(120)

    assert len(results) == 3
    assert_each_service_once(sandbox, service_ids)
    assert sum(result.run.succeeded for result in results) == 60
    assert sum(result.run.failed for result in results) == 0


def fake_run(**fields) -> Run:
    now = timezone.now()
    values = {
        "status": Run.Status.RUNNING,
        "started_at": now,
        "heartbeat_at": now,
        "service_type": 3,
        "workers": 1,
        "host": os.uname().nodename,
        "pid": os.getpid(),
    }
    values.update(fields)
    return Run.objects.create(**values)


def claim(run, service_id, *, expires_in):
    now = timezone.now()
    return ServiceClaim.objects.create(
        service_id=service_id,
        run=run,
        claimed_at=now,
        expires_at=now + timedelta(seconds=expires_in),
    )


def test_live_claim_skips_service(make_sandbox):
    sandbox = make_sandbox(services=5, importers=1, seed=32)
    claimed = sandbox.backend.pending_ids()[0]
    holder = fake_run()
    claim(holder, claimed, expires_in=600)

    result = run_pages(sandbox, 1, 1)

    outcome = result.run.outcomes.get(service_id=claimed)
    assert outcome.status == ServiceOutcome.Status.SKIPPED
    assert f"claimed by run {holder.pk}" in outcome.error_message
    assert sandbox.backend.state_of(claimed) == PENDING
    assert sandbox.vucem.requests_by_pedimento[pedimento_of(sandbox, claimed)] == 0
    assert result.run.succeeded == 4
    assert ServiceClaim.objects.filter(service_id=claimed, run=holder).exists()


def test_expired_claim_taken_over(make_sandbox):
    sandbox = make_sandbox(services=5, importers=1, seed=33)
    claimed = sandbox.backend.pending_ids()[0]
    # A run on this host with this pid counts as alive, so only the lease
    # expiry can free its claim.
    holder = fake_run()
    claim(holder, claimed, expires_in=-1)

    result = run_pages(sandbox, 1, 1)

    outcome = result.run.outcomes.get(service_id=claimed)
    assert outcome.status == ServiceOutcome.Status.SUCCEEDED
    assert sandbox.backend.state_of(claimed) == DONE
    assert not ServiceClaim.objects.filter(service_id=claimed).exists()
    holder.refresh_from_db()
    assert holder.status == Run.Status.RUNNING


def test_dead_run_abandoned_and_claim_freed(make_sandbox):
    sandbox = make_sandbox(services=5, importers=1, seed=34)
    claimed = sandbox.backend.pending_ids()[0]
    dead_pid = subprocess.Popen([str(PYTHON), "-c", "pass"])
    dead_pid.wait()
    holder = fake_run(pid=dead_pid.pid)
    claim(holder, claimed, expires_in=3600)
    in_flight = ServiceOutcome.objects.create(
        run=holder, service_id=claimed, status=ServiceOutcome.Status.RUNNING,
        started_at=timezone.now(),
    )

    result = run_pages(sandbox, 1, 1)

    holder.refresh_from_db()
    in_flight.refresh_from_db()
    assert holder.status == Run.Status.ABANDONED
    assert in_flight.status == ServiceOutcome.Status.SKIPPED
    assert result.run.outcomes.get(service_id=claimed).status == "succeeded"
    assert sandbox.backend.state_of(claimed) == DONE


def test_two_commands_split_work(make_sandbox):
    sandbox = make_sandbox(
        services=30, importers=3, seed=35, vucem=VucemFaults(latency=0.1)
    )
    service_ids = sandbox.backend.pending_ids()

    commands = [start_command(sandbox, "1", "3", "--workers", "2", "--json")
                for _ in range(2)]
    outputs = [command.communicate(timeout=60) for command in commands]

    for command, (stdout, stderr) in zip(commands, outputs, strict=True):
        assert command.returncode == 0, stderr
        assert json.loads(stdout.strip().splitlines()[-1])
    runs = list(Run.objects.order_by("id"))
    assert len(runs) == 2
    assert all(run.status == Run.Status.COMPLETED for run in runs)
    assert sum(run.succeeded for run in runs) == 30
    # Both commands read the same pages, so the skips prove they competed.
    assert sum(run.skipped for run in runs) > 0
    assert all(run.pid != os.getpid() for run in runs)
    assert_each_service_once(sandbox, service_ids)
