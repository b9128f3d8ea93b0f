"""Process one pedimento service: validate, fetch from VUCEM, upload, mark."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import services
from .backend import BackendClient
from .conf import ProcessingConfig
from .exceptions import (
    BackendAuthError,
    BackendError,
    ErrorKind,
    InvalidServiceData,
    NoCredentials,
    PedimentosError,
    TransientError,
    VucemError,
    VucemTransportError,
)
from .logging import register_secret
from .models import Run, ServiceOutcome
from .ratelimit import RateLimiter
from .retry import call_with_retry
from .vucem import Credentials, normalize_query, validate_rfc

logger = logging.getLogger(__name__)


class Interrupted(Exception):
    """The run was asked to stop before this service's VUCEM call succeeded."""


class CredentialStore:
    """Fetch each importer's VUCEM credentials once per run, shared by all workers.

    When several workers ask for the same RFC at once, one fetches and the
    others wait for its result. A permanent result (no credentials) is
    cached for the run; a transient failure is not, so the next service of
    that importer tries again.
    """

    def __init__(self, backend: BackendClient):
        self._backend = backend
        self._lock = threading.Lock()
        self._futures: dict[str, Future] = {}

    def get(self, rfc: str) -> Credentials:
        with self._lock:
            future = self._futures.get(rfc)
            owner = future is None
            if owner:
                future = Future()
                self._futures[rfc] = future
        if owner:
            try:
                future.set_result(self._fetch(rfc))
            except TransientError as error:
                with self._lock:
                    self._futures.pop(rfc, None)
                future.set_exception(error)
            except Exception as error:
                future.set_exception(error)
        return future.result()

    def _fetch(self, rfc: str) -> Credentials:
        entries = self._backend.get_credentials(rfc)
        matching = [e for e in entries if str(e.get("usuario") or "").strip().upper() == rfc]
        active = [e for e in matching if e.get("is_active", True) and e.get("password")]
        for entry in active:
            register_secret(str(entry["password"]))
        if not active:
            detail = "only inactive or keyless entries" if matching else "no entry"
            raise NoCredentials(
                f"No active VUCEM credentials for RFC {rfc} in the backend ({detail}); "
                "add or activate them in the backend's VUCEM credentials list."
            )
        keys = {str(e["password"]) for e in active}
        if len(keys) > 1:
            raise NoCredentials(
                f"The backend has {len(active)} active VUCEM credentials for RFC {rfc} with "
                "different keys; deactivate all but the current one."
            )
        return Credentials(username=rfc, password=keys.pop())


@dataclass
class RunContext:
    """State shared by every worker of one run."""

    run: Run
    config: ProcessingConfig
    backend: BackendClient
    vucem: object
    limiter: RateLimiter
    credentials: CredentialStore
    stop_event: threading.Event = field(default_factory=threading.Event)
    # Limits how many VUCEM requests of the run are in flight at once.
    vucem_slots: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(1))
    abort_error: BackendAuthError | None = None
    # The reason the run stopped taking services because VUCEM was unreachable.
    vucem_outage: str | None = None
    vucem_failures_in_row: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def sleep(self, seconds: float) -> bool:
        """Wait between retries; return False when the run is stopping."""
        return not self.stop_event.wait(seconds)

    def record_vucem_result(self, error: Exception | None) -> None:
        """Count services in a row that could not reach VUCEM; stop the run at the limit.

        ``error`` is None when VUCEM replied (success, fault or business
        error), and the transport error when every attempt failed to reach it.
        """
        limit = self.config.vucem_max_consecutive_failures
        with self._lock:
            if error is None:
                self.vucem_failures_in_row = 0
                return
            self.vucem_failures_in_row += 1
            if not limit or self.vucem_failures_in_row < limit or self.vucem_outage:
                return
            self.vucem_outage = (
                f"VUCEM could not be reached for {self.vucem_failures_in_row} services in a row "
                f"(last error: {error}), so the run stopped taking services. Services not "
                "started are still pending. Those that failed are marked failed in the "
                "backend: once VUCEM answers again (check VUCEM_URL and VUCEM's status), "
                "retry them with 'process_pedimentos --retry-failed --error-kind transport'."
            )
        logger.error("Run %s: %s", self.run.pk, self.vucem_outage)
        self.stop_event.set()


def outcome_row(service: dict, *, page: int, position: int) -> dict:
    """Copy a backend service into the fields of a queued ``ServiceOutcome``."""
    pedimento = service.get("pedimento")
    if not isinstance(pedimento, dict):
        pedimento = {}

    def text(value, limit):
        return "" if value is None else str(value).strip()[:limit]

    return {
        "service_id": int(service["id"]),
        "page": page,
        "position": position,
        "pedimento_uuid": text(pedimento.get("id"), 64),
        "pedimento_number": text(pedimento.get("pedimento"), 32),
        "aduana": text(pedimento.get("aduana"), 16),
        "patente": text(pedimento.get("patente"), 16),
        "rfc": text(pedimento.get("contribuyente"), 32),
        "organizacion": text(service.get("organizacion"), 64),
        "service_type": _int_or_none(service.get("servicio")),
        "processing_type": _int_or_none(service.get("tipo_procesamiento")),
    }


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def process_outcome(outcome: ServiceOutcome, ctx: RunContext, *, worker: str) -> ServiceOutcome:
    """Run one queued service through the whole pipeline and record the result."""
    claim = services.claim_acquire(outcome, lease_seconds=ctx.config.claim_lease)
    reason = claim.skip_reason
    if reason is not None:
        logger.info("Service %s skipped: %s", outcome.service_id, reason)
        services.outcome_skip(outcome, reason=f"Skipped: {reason}.")
        return outcome

    services.outcome_start(outcome, worker=worker)
    step = _Step()
    try:
        _run_pipeline(outcome, ctx, step, claim.history)
    except Interrupted:
        services.outcome_save(outcome, status=ServiceOutcome.Status.SKIPPED, fields={
            **step.fields,
            "error_message": "The run was stopped before VUCEM answered; the service is still pending.",
        })
        return outcome
    except BackendAuthError as error:
        ctx.abort_error = error
        ctx.stop_event.set()
        services.outcome_save(outcome, status=ServiceOutcome.Status.SKIPPED, fields={
            **step.fields, "error_message": str(error),
        })
        return outcome
    except Exception as error:  # the task boundary: one service never stops the run
        _fail(outcome, ctx, step, error)
        if isinstance(error, VucemTransportError):
            ctx.record_vucem_result(error)
        elif isinstance(error, VucemError):
            ctx.record_vucem_result(None)
        return outcome

    if step.fields["attempts"]:
        ctx.record_vucem_result(None)
    services.outcome_save(outcome, status=ServiceOutcome.Status.SUCCEEDED, fields=step.fields)
    logger.info(
        "Service %s (pedimento %s) done: document %s, %d bytes",
        outcome.service_id, outcome.pedimento_number, outcome.document_id, outcome.reply_size or 0,
    )
    return outcome


class _Step:
    """Fields gathered while a service moves through the pipeline."""

    def __init__(self):
        self.fields: dict = {"attempts": 0, "attempt_log": []}
        self.failed_at = ErrorKind.INTERNAL


def _run_pipeline(outcome: ServiceOutcome, ctx: RunContext, step: _Step, history: list) -> None:
    config = ctx.config
    step.failed_at = ErrorKind.INVALID_DATA
    query, rfc = _validate(outcome)

    previous = _previous_upload(history)
    step.failed_at = ErrorKind.UPLOAD_FAILED
    unconfirmed = None if previous is not None else _unconfirmed_upload(outcome, ctx, history)
    if previous is not None:
        # An earlier run uploaded the reply but could not mark the service;
        # only the state update is missing.
        logger.info("Service %s: document %s was uploaded by run %s; only updating the state",
                    outcome.service_id, previous.document_id, previous.run_id)
        step.fields.update(document_id=previous.document_id, reply_size=previous.reply_size,
                           reply_sha256=previous.reply_sha256, numero_operacion=previous.numero_operacion)
    elif unconfirmed is not None:
        logger.info("Service %s: document %s reached the backend in an interrupted attempt; "
                    "only updating the state", outcome.service_id, unconfirmed.get("id"))
        step.fields["document_id"] = str(unconfirmed["id"])[:64]
        if isinstance(unconfirmed.get("size"), int):
            step.fields["reply_size"] = unconfirmed["size"]
    else:
        step.failed_at = ErrorKind.NO_CREDENTIALS
        credentials = ctx.credentials.get(rfc)
        step.failed_at = ErrorKind.TRANSPORT
        reply = _call_vucem(outcome, ctx, step, query, credentials)

        step.fields.update(
            numero_operacion=reply.numero_operacion or "",
            reply_size=len(reply.xml),
            reply_sha256=hashlib.sha256(reply.xml).hexdigest(),
        )
        step.failed_at = ErrorKind.UPLOAD_FAILED
        document = ctx.backend.upload_document(
            filename=f"pedimento_completo_{query.pedimento}.xml",
            content=reply.xml,
            organizacion=outcome.organizacion,
            pedimento_uuid=outcome.pedimento_uuid,
            document_type=config.document_type,
        )
        step.fields["document_id"] = str(document["id"])[:64]
        # Store the document id at once: if the process dies before the state
        # update, the next run must not upload the same reply again.
        ServiceOutcome.objects.filter(pk=outcome.pk).update(
            document_id=step.fields["document_id"],
            reply_size=step.fields["reply_size"],
            reply_sha256=step.fields["reply_sha256"],
        )

    step.failed_at = ErrorKind.UPDATE_FAILED
    ctx.backend.update_service(outcome.service_id, _state_payload(outcome, config.state_done))
    step.fields["backend_updated"] = True


def _validate(outcome: ServiceOutcome):
    missing = [name for name, value in (
        ("pedimento.id", outcome.pedimento_uuid),
        ("organizacion", outcome.organizacion),
    ) if not value]
    if missing:
        raise InvalidServiceData(
            f"Service {outcome.service_id} has no {' or '.join(missing)}; fix the service in the backend."
        )
    query = normalize_query(outcome.aduana or None, outcome.patente or None, outcome.pedimento_number or None)
    rfc = validate_rfc(outcome.rfc or None)
    return query, rfc


def _previous_upload(history: list):
    """Return the newest earlier outcome whose upload was never followed by a state update."""
    for earlier in history:
        if earlier.document_id and not earlier.backend_updated:
            return earlier
    return None


def _unconfirmed_upload(outcome: ServiceOutcome, ctx: RunContext, history: list) -> dict | None:
    """Return the document that an interrupted attempt may have uploaded, or None.

    When the latest earlier attempt at this service was still in flight when
    its run stopped (killed, crashed or out of grace time), its upload may
    have reached the backend without its response being stored. A document of
    the pedimento created after that attempt started is that upload.
    """
    started = [earlier for earlier in history if earlier.started_at is not None]
    latest = max(started, key=lambda earlier: earlier.started_at, default=None)
    if latest is None or latest.status != ServiceOutcome.Status.SKIPPED or latest.document_id:
        return None
    documents = ctx.backend.find_documents(
        pedimento_uuid=outcome.pedimento_uuid, document_type=ctx.config.document_type
    )
    for document in documents:
        created = parse_datetime(str(document.get("created_at") or ""))
        if document.get("id") not in (None, "") and created is not None and created >= latest.started_at:
            return document
    return None


def _call_vucem(outcome, ctx: RunContext, step: _Step, query, credentials):
    def attempt():
        with ctx.vucem_slots:
            if ctx.stop_event.is_set() or not ctx.limiter.acquire():
                raise Interrupted()
            return ctx.vucem.consultar_pedimento_completo(query, credentials)

    def record(number, error, seconds):
        step.fields["attempts"] = number
        step.fields["attempt_log"].append({
            "at": timezone.now().isoformat(timespec="seconds"),
            "seconds": round(seconds, 3),
            "result": "ok" if error is None else f"{getattr(error, 'error_kind', 'error')}: {error}"[:300],
        })

    try:
        return call_with_retry(
            attempt,
            ctx.config.retry_policy,
            description=f"VUCEM call for service {outcome.service_id} (pedimento {query.pedimento})",
            sleep=ctx.sleep,
            on_attempt=record,
        )
    except TransientError:
        if ctx.stop_event.is_set():
            raise Interrupted()
        raise


def _state_payload(outcome: ServiceOutcome, state: int) -> dict:
    return {
        "estado": state,
        "pedimento": outcome.pedimento_uuid or None,
        "servicio": outcome.service_type,
        "tipo_procesamiento": outcome.processing_type,
        "organizacion": outcome.organizacion or None,
    }


def _fail(outcome: ServiceOutcome, ctx: RunContext, step: _Step, error: Exception) -> None:
    """Mark a service failed in the backend and record why."""
    if isinstance(error, PedimentosError):
        kind = error.error_kind
        # A backend error during upload or update is named by the step.
        if isinstance(error, BackendError) and step.failed_at in (ErrorKind.UPLOAD_FAILED, ErrorKind.UPDATE_FAILED):
            kind = step.failed_at
        message = str(error)
    else:
        kind = ErrorKind.INTERNAL
        message = f"Unexpected {type(error).__name__}: {error}"
        logger.exception("Service %s failed with an unexpected error", outcome.service_id)
    step.fields.update(error_kind=kind, error_message=message, error_code=getattr(error, "code", "") or "")

    if kind != ErrorKind.UPDATE_FAILED:
        try:
            ctx.backend.update_service(outcome.service_id, _state_payload(outcome, ctx.config.state_failed))
            step.fields["backend_updated"] = True
        except BackendAuthError as auth_error:
            ctx.abort_error = auth_error
            ctx.stop_event.set()
        except PedimentosError as update_error:
            step.fields["error_message"] = (
                f"{message} Marking it failed in the backend also failed: {update_error}"
            )
    services.outcome_save(outcome, status=ServiceOutcome.Status.FAILED, fields=step.fields)
    logger.error("Service %s (pedimento %s) failed [%s]: %s",
                 outcome.service_id, outcome.pedimento_number or "?", kind, step.fields["error_message"])
