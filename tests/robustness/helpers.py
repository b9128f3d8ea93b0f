"""Helpers for the robustness suite: runs, subprocess commands and invariants.

The invariants are the guarantees the tool gives an unattended cron job:
every service ends in exactly one state that matches what was recorded, no
pedimento gets two documents, and no service is processed twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from django.db import connection

from pedimentos.models import Run, ServiceOutcome
from pedimentos.runner import Runner
from tests.conftest import sandbox_config

PENDING, FAILED, DONE = 1, 2, 3
SERVICE_TYPE = 3
PROJECT_DIR = Path(__file__).resolve().parents[2]
PYTHON = PROJECT_DIR / ".venv" / "bin" / "python"
if not PYTHON.exists():
    PYTHON = Path(sys.executable)


def run_pages(sandbox, start, end, *, workers=2, progress=None, **overrides):
    """Run pages ``start``..``end`` in this process and return the RunResult."""
    runner = Runner(
        sandbox_config(sandbox, **overrides),
        workers=workers,
        service_type=SERVICE_TYPE,
        progress=progress,
    )
    return runner.run_pages(start, end, started_by="robustness test")


def pedimento_of(sandbox, service_id) -> str:
    return sandbox.backend.services[service_id]["pedimento"]["pedimento"]


def uuid_of(sandbox, service_id) -> str:
    return sandbox.backend.services[service_id]["pedimento"]["id"]


def documents_per_pedimento(sandbox) -> Counter:
    return Counter(document["pedimento"] for document in sandbox.backend.documents)


def assert_no_duplicate_documents(sandbox) -> None:
    """Assert that no pedimento has more than one uploaded document."""
    twice = {uuid: n for uuid, n in documents_per_pedimento(sandbox).items() if n > 1}
    assert twice == {}, f"pedimentos with more than one document: {twice}"


def assert_outcomes_match_backend(sandbox, service_ids) -> None:
    """Assert that each service's recorded outcomes agree with its backend state.

    DONE: exactly one document, and exactly one SUCCEEDED outcome over all
    runs unless a killed run updated the state but never recorded it. FAILED: no SUCCEEDED outcome, and the latest finished outcome
    is FAILED and wrote the state. PENDING: no SUCCEEDED outcome, and any
    FAILED one could not write the state.
    """
    for service_id in service_ids:
        state = sandbox.backend.state_of(service_id)
        outcomes = ServiceOutcome.objects.filter(service_id=service_id)
        succeeded = outcomes.filter(status=ServiceOutcome.Status.SUCCEEDED)
        finished = outcomes.filter(status__in=ServiceOutcome.TERMINAL_STATUSES)
        latest = finished.order_by("-finished_at", "-id").first()
        documents = documents_per_pedimento(sandbox)[uuid_of(sandbox, service_id)]
        label = f"service {service_id} in backend state {state}"
        if state == DONE:
            assert documents == 1, label
            if succeeded.exists():
                assert succeeded.count() == 1, label
                assert succeeded.get().backend_updated, label
            else:
                # Killed after the state update, before recording it: the
                # abandoned run's outcome still has the document id.
                cut_off = outcomes.filter(
                    status=ServiceOutcome.Status.SKIPPED,
                    run__status=Run.Status.ABANDONED,
                ).exclude(document_id="")
                assert cut_off.exists(), label
        elif state == FAILED:
            assert succeeded.count() == 0, label
            assert latest is not None, label
            assert latest.status == ServiceOutcome.Status.FAILED, label
            assert latest.backend_updated, label
        else:
            assert state == PENDING, label
            assert succeeded.count() == 0, label
            for outcome in finished:
                assert not outcome.backend_updated, label


def assert_run_counts_match_backend(run: Run, sandbox) -> None:
    """Assert that a single run's counts equal what the backend now shows."""
    run.refresh_from_db()
    outcomes = list(run.outcomes.all())
    done = [o for o in outcomes if sandbox.backend.state_of(o.service_id) == DONE]
    failed_in_backend = [
        o for o in outcomes if sandbox.backend.state_of(o.service_id) == FAILED
    ]
    failed_unwritten = [
        o
        for o in outcomes
        if o.status == ServiceOutcome.Status.FAILED and not o.backend_updated
    ]
    assert run.succeeded == len(done)
    assert run.failed == len(failed_in_backend) + len(failed_unwritten)
    assert run.processed == run.succeeded + run.failed
    assert run.outcomes.filter(status__in=["queued", "running"]).count() == 0


# --- subprocess runs ----------------------------------------------------------


def database_url() -> str:
    """Return a DATABASE_URL for the test database this process uses."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = quote(settings.get("USER") or "", safe="")
    password = quote(settings.get("PASSWORD") or "", safe="")
    credentials = f"{user}@" if user else ""
    if password:
        credentials = f"{user}:{password}@"
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{settings['NAME']}"


def command_env(sandbox, **extra) -> dict:
    """Return the environment for a ``process_pedimentos`` subprocess."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("API_", "VUCEM_", "LOG_", "DJANGO_"))
    }
    env.update(
        DATABASE_URL=database_url(),
        API_URL=sandbox.api_url,
        API_TOKEN=sandbox.api_token,
        VUCEM_URL=sandbox.vucem_url,
        VUCEM_READ_TIMEOUT="5",
        API_READ_TIMEOUT="5",
        REQUEST_DELAY_SECONDS="0",
        RETRY_BACKOFF_SECONDS="0.01",
        RETRY_BACKOFF_MAX_SECONDS="0.05",
        RETRY_AFTER_MAX_SECONDS="0.05",
        PYTHONUNBUFFERED="1",
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


def start_command(sandbox, *args, env=None, **popen) -> subprocess.Popen:
    """Start ``manage.py process_pedimentos ARGS`` against the sandbox."""
    return subprocess.Popen(
        [str(PYTHON), "manage.py", "process_pedimentos", *args, "--no-progress"],
        cwd=PROJECT_DIR,
        env=env or command_env(sandbox),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def wait_for(condition, *, timeout: float, interval: float = 0.01) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
