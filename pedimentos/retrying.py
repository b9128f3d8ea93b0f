"""Retry failed services from the admin: plan what to retry, then run it.

A plan sorts the selected outcomes into services to retry and services to
skip, with the reason for each skip. The retry itself is a run of kind
``retry`` made by ``Runner.run_services``, the same engine the command
uses, so the old failed outcome stays and the retry adds a new one.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections
from django.utils.translation import gettext as _

from . import selectors
from .backend import BackendClient
from .conf import ProcessingConfig
from .exceptions import BackendRejected, PedimentosError
from .logging import register_secret
from .models import ServiceOutcome
from .retry import RetryPolicy
from .runner import Runner, RunResult

logger = logging.getLogger(__name__)

# Retries of more services than this run in a background thread, so the
# admin page returns at once instead of waiting for VUCEM.
BACKGROUND_RETRY_THRESHOLD = 20
# Most services one admin action may retry; larger sets belong to the
# command (process_pedimentos --retry-failed).
MAX_RETRY_SERVICES = 500
# Parallel GET requests that check the services' state in the backend.
CHECK_THREADS = 4
# The state check gives up fast, because an operator waits for the page.
CHECK_RETRY_POLICY = RetryPolicy(max_attempts=2, backoff=0.5, backoff_max=1.0, jitter=0)
CHECK_READ_TIMEOUT = 15.0


@dataclass(frozen=True)
class SkippedService:
    """A selected outcome that will not be retried, and why."""

    outcome: ServiceOutcome
    reason: str


@dataclass
class RetryPlan:
    """The selected outcomes sorted into services to retry and to skip."""

    to_retry: list[ServiceOutcome] = field(default_factory=list)
    skipped: list[SkippedService] = field(default_factory=list)
    # Why the backend could not be asked for the services' state; when set,
    # nothing may be retried.
    backend_error: str = ""
    # Services the plan did not check because the backend failed first.
    unchecked: list[ServiceOutcome] = field(default_factory=list)

    @property
    def service_ids(self) -> list[int]:
        return [outcome.service_id for outcome in self.to_retry]

    @property
    def can_retry(self) -> bool:
        return bool(self.to_retry) and not self.backend_error


@dataclass(frozen=True)
class RetryStarted:
    """Result of ``retry_start``: a finished run, or a running background thread."""

    service_count: int
    result: RunResult | None = None
    thread: threading.Thread | None = None

    @property
    def in_background(self) -> bool:
        return self.thread is not None


def retry_plan(outcomes, *, backend: BackendClient | None = None,
               state_failed: int | None = None,
               max_services: int | None = MAX_RETRY_SERVICES) -> RetryPlan:
    """Sort the selected outcomes into services to retry and to skip.

    The database checks come first (not a failure, succeeded later, in
    flight); only the services left are checked in the backend, with one
    GET each. ``backend`` defaults to a client built from settings.
    ``max_services`` caps what one admin request may retry; None lifts it
    (the command line).
    """
    plan = RetryPlan()
    candidates: dict[int, ServiceOutcome] = {}
    for outcome in sorted(outcomes, key=lambda o: o.pk, reverse=True):
        reason = _local_skip_reason(outcome, candidates)
        if reason:
            plan.skipped.append(SkippedService(outcome, reason))
        else:
            candidates[outcome.service_id] = outcome

    in_flight = selectors.runs_in_flight_for(candidates)
    for service_id, run_id in in_flight.items():
        outcome = candidates.pop(service_id)
        plan.skipped.append(SkippedService(
            outcome, _("Being processed now by run %(run)s.") % {"run": run_id}
        ))

    if max_services is not None and len(candidates) > max_services:
        plan.backend_error = _(
            "%(count)d services were selected; the admin retries at most %(max)d at "
            "once. Narrow the selection, or run 'manage.py process_pedimentos "
            "--retry-failed' on the server."
        ) % {"count": len(candidates), "max": MAX_RETRY_SERVICES}
        plan.unchecked = list(candidates.values())
        return plan

    if candidates:
        _check_backend(plan, list(candidates.values()), backend, state_failed)
    plan.to_retry.sort(key=lambda outcome: outcome.service_id)
    return plan


def _local_skip_reason(outcome: ServiceOutcome, candidates: dict) -> str:
    if outcome.status != ServiceOutcome.Status.FAILED:
        return _("Not a failure: its status is “%(status)s”.") % {
            "status": outcome.get_status_display()
        }
    if outcome.service_id in candidates:
        return _("A newer failure of the same service (outcome %(id)s) is retried.") % {
            "id": candidates[outcome.service_id].pk
        }
    success = selectors.later_success(outcome)
    if success is not None:
        return _("Already succeeded in a later run (run %(run)s).") % {"run": success.run_id}
    return ""


def _check_backend(plan: RetryPlan, candidates: list[ServiceOutcome],
                   backend: BackendClient | None, state_failed: int | None) -> None:
    """Ask the backend for each candidate's state; keep those still failed."""
    own_client = backend is None
    if own_client:
        backend = check_client()
    if state_failed is None:
        state_failed = settings.SERVICE_STATE_FAILED

    stopped = threading.Event()
    failures: list[PedimentosError] = []

    def fetch(outcome):
        # After the first failure that is not about one service, the other
        # checks are not sent: the backend is down or rejects the token.
        if stopped.is_set():
            return outcome, None, None
        try:
            return outcome, backend.get_service(outcome.service_id), None
        except BackendRejected as error:
            return outcome, None, error
        except PedimentosError as error:
            stopped.set()
            failures.append(error)
            return outcome, None, None

    try:
        with ThreadPoolExecutor(max_workers=CHECK_THREADS) as pool:
            results = list(pool.map(fetch, candidates))
    finally:
        if own_client:
            backend.close()

    if failures:
        logger.warning("Retry check: the backend could not be asked: %s", failures[0])
        plan.backend_error = _(
            "The backend could not be asked whether the services are still failed: "
            "%(error)s. Nothing was retried; try again when the backend is reachable."
        ) % {"error": failures[0]}
        plan.unchecked = candidates
        return

    for outcome, service, error in results:
        if error is not None:
            plan.skipped.append(SkippedService(
                outcome, _("The backend did not return the service: %(error)s") % {"error": error}
            ))
            continue
        state = service.get("estado")
        if _as_int(state) != state_failed:
            plan.skipped.append(SkippedService(outcome, _state_reason(state)))
            continue
        plan.to_retry.append(outcome)


def _as_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _state_reason(state) -> str:
    number = _as_int(state)
    if number == settings.SERVICE_STATE_DONE:
        return _("No longer failed in the backend: it is done (estado %(state)s).") % {
            "state": state
        }
    if number == settings.SERVICE_STATE_PENDING:
        return _(
            "No longer failed in the backend: it is pending again (estado %(state)s), "
            "so the next scheduled run processes it."
        ) % {"state": state}
    return _("No longer failed in the backend (estado %(state)s).") % {"state": state}


def check_client() -> BackendClient:
    """Build a backend client with short timeouts for the admin's state check."""
    config = ProcessingConfig.from_settings()
    register_secret(config.api_token)
    return BackendClient(
        api_url=config.api_url,
        token=config.api_token,
        paths=config.api_paths,
        connect_timeout=config.api_connect_timeout,
        read_timeout=min(config.api_read_timeout, CHECK_READ_TIMEOUT),
        retry_policy=CHECK_RETRY_POLICY,
    )


def retry_start(service_ids: list[int], *, started_by: str,
                config: ProcessingConfig | None = None) -> RetryStarted:
    """Retry the services as a new run; in a background thread if there are many.

    Raise ``ImproperlyConfigured`` when the settings are invalid, before
    any run starts.
    """
    config = config or ProcessingConfig.from_settings()
    register_secret(config.api_token)
    if len(service_ids) > BACKGROUND_RETRY_THRESHOLD:
        thread = threading.Thread(
            target=_retry_in_thread,
            args=(config, list(service_ids), started_by),
            name="AdminRetry",
            # NOTE: a daemon thread dies with the web server process; the
            # next run then marks the retry run abandoned.
            daemon=True,
        )
        thread.start()
        return RetryStarted(service_count=len(service_ids), thread=thread)
    return RetryStarted(
        service_count=len(service_ids),
        result=retry_run(service_ids, started_by=started_by, config=config),
    )


def retry_run(service_ids: list[int], *, started_by: str,
              config: ProcessingConfig | None = None) -> RunResult:
    """Re-read the services from the backend and process them in a retry run."""
    config = config or ProcessingConfig.from_settings()
    workers = max(1, min(settings.DEFAULT_MAX_WORKERS, len(service_ids)))
    runner = Runner(config, workers=workers, service_type=settings.DEFAULT_SERVICE_TYPE)
    return runner.run_services(list(service_ids), started_by=started_by)


def _retry_in_thread(config, service_ids, started_by) -> None:
    try:
        result = retry_run(service_ids, started_by=started_by, config=config)
        logger.info("Background retry run %s finished: %d succeeded, %d failed",
                    result.run.pk, result.run.succeeded, result.run.failed)
    except Exception:  # the thread boundary: log instead of dying silently
        logger.exception("Background retry of %d services failed", len(service_ids))
    finally:
        connections.close_all()


def started_by_admin(user) -> str:
    """Return the ``Run.started_by`` text for a retry made by an admin user."""
    return f"admin: {user.get_username()}"

