"""Records of processing runs and of each service's outcome in a run."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Run(models.Model):
    """One execution of ``process_pedimentos`` (from cron, a shell or the admin)."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        INTERRUPTED = "interrupted", _("Interrupted")
        ABORTED = "aborted", _("Aborted")
        ABANDONED = "abandoned", _("Abandoned")

    class Kind(models.TextChoices):
        PAGES = "pages", _("Pages")
        RETRY = "retry", _("Retry")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.PAGES)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RUNNING, db_index=True
    )
    started_at = models.DateTimeField(_("started at"), db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # When the pending list was read; outcomes recorded by other runs after
    # this moment mean the service was handled since this run saw it.
    snapshot_at = models.DateTimeField(_("snapshot taken at"), null=True, blank=True)

    start_page = models.PositiveIntegerField(_("start page"), null=True, blank=True)
    end_page = models.PositiveIntegerField(_("end page"), null=True, blank=True)
    service_type = models.PositiveIntegerField(_("service type"))
    workers = models.PositiveIntegerField(_("workers"))
    page_size = models.PositiveIntegerField(_("page size"), null=True, blank=True)
    started_by = models.CharField(_("started by"), max_length=150, blank=True)
    host = models.CharField(_("host"), max_length=255, blank=True)
    pid = models.PositiveIntegerField(_("process id"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)

    pages_processed = models.PositiveIntegerField(_("pages processed"), default=0)
    processed = models.PositiveIntegerField(_("processed"), default=0)
    succeeded = models.PositiveIntegerField(_("succeeded"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    message = models.TextField(_("message"), blank=True)

    class Meta:
        verbose_name = _("run")
        verbose_name_plural = _("runs")
        ordering = ["-started_at", "-id"]
        permissions = [("retry_failed_services", _("Can retry failed services"))]

    def __str__(self) -> str:
        return _("Run %(id)s (%(status)s)") % {"id": self.pk, "status": self.get_status_display()}

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def success_rate(self) -> float | None:
        """Percentage of processed services that succeeded, or None if none ran."""
        if not self.processed:
            return None
        return 100.0 * self.succeeded / self.processed


class ServiceOutcome(models.Model):
    """The result of processing one backend service in one run.

    A row is written for every service of the run's snapshot before any is
    processed (status ``queued``), so a crash leaves a record of what was
    never finished. Service data is copied here because the backend's copy
    changes when the service is marked done.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    class ErrorKind(models.TextChoices):
        INVALID_DATA = "invalid_data", _("Invalid service data")
        NO_CREDENTIALS = "no_credentials", _("No VUCEM credentials")
        AUTH_FAILED = "auth_failed", _("VUCEM authentication failed")
        VUCEM_ERROR = "vucem_error", _("VUCEM replied with an error")
        SOAP_FAULT = "soap_fault", _("VUCEM SOAP fault")
        TRANSPORT = "transport", _("Connection or server error")
        INVALID_REPLY = "invalid_reply", _("Invalid VUCEM reply")
        BACKEND_REJECTED = "backend_rejected", _("Rejected by the backend")
        UPLOAD_FAILED = "upload_failed", _("Document upload failed")
        UPDATE_FAILED = "update_failed", _("State update failed")
        INTERNAL = "internal", _("Internal error")

    TERMINAL_STATUSES = (Status.SUCCEEDED, Status.FAILED)

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="outcomes", verbose_name=_("run"))
    service_id = models.BigIntegerField(_("service id"), db_index=True)
    page = models.PositiveIntegerField(_("page"), null=True, blank=True)
    position = models.PositiveIntegerField(_("position in page"), default=0)

    # Copied from the backend service as it was when the run read it.
    pedimento_uuid = models.CharField(_("pedimento UUID"), max_length=64, blank=True)
    pedimento_number = models.CharField(_("pedimento"), max_length=32, blank=True, db_index=True)
    aduana = models.CharField(_("aduana"), max_length=16, blank=True)
    patente = models.CharField(_("patente"), max_length=16, blank=True)
    rfc = models.CharField(_("importer RFC"), max_length=32, blank=True, db_index=True)
    organizacion = models.CharField(_("organization"), max_length=64, blank=True)
    service_type = models.PositiveIntegerField(_("service type"), null=True, blank=True)
    processing_type = models.PositiveIntegerField(_("processing type"), null=True, blank=True)

    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    worker = models.CharField(_("worker"), max_length=64, blank=True)
    attempts = models.PositiveIntegerField(_("VUCEM attempts"), default=0)
    error_kind = models.CharField(_("error kind"), max_length=32, choices=ErrorKind.choices, blank=True, db_index=True)
    error_code = models.CharField(_("SOAP fault code"), max_length=128, blank=True)
    error_message = models.TextField(_("error message"), blank=True)
    # Per-attempt timing and result, for example
    # [{"at": "...", "seconds": 1.2, "result": "HTTP 503"}].
    attempt_log = models.JSONField(_("attempts"), default=list, blank=True)

    numero_operacion = models.CharField(_("VUCEM operation number"), max_length=32, blank=True)
    document_id = models.CharField(_("document id"), max_length=64, blank=True)
    reply_size = models.PositiveIntegerField(_("reply size (bytes)"), null=True, blank=True)
    reply_sha256 = models.CharField(_("reply SHA-256"), max_length=64, blank=True)
    backend_updated = models.BooleanField(_("state updated in backend"), default=False)

    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("service outcome")
        verbose_name_plural = _("service outcomes")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "service_id"], name="one_outcome_per_service_per_run"),
        ]
        indexes = [models.Index(fields=["run", "status"])]

    def __str__(self) -> str:
        return _("Service %(service)s, pedimento %(pedimento)s") % {
            "service": self.service_id,
            "pedimento": self.pedimento_number or "?",
        }

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class ServiceClaim(models.Model):
    """A run's lease on a backend service while it processes it.

    At most one claim per backend service id exists; a run takes it before
    calling VUCEM and deletes it when the outcome is recorded. A claim past
    ``expires_at`` belongs to a run that died and may be taken over.
    """

    service_id = models.BigIntegerField(_("service id"), unique=True)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="claims", verbose_name=_("run"))
    claimed_at = models.DateTimeField(_("claimed at"))
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    class Meta:
        verbose_name = _("service claim")
        verbose_name_plural = _("service claims")

    def __str__(self) -> str:
        return _("Claim on service %(service)s by run %(run)s") % {
            "service": self.service_id,
            "run": self.run_id,
        }
