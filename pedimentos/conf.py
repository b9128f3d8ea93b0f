"""Settings of a run, read from Django settings when the run starts."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .backend import BackendPaths
from .retry import RetryPolicy

# Service types this tool can process, with their names.
SUPPORTED_SERVICE_TYPES = {3: "pedimento completo"}


@dataclass(frozen=True)
class ProcessingConfig:
    """Everything a run needs to know, as plain typed values."""

    api_url: str
    api_token: str = field(repr=False)
    api_page_size: int
    api_paths: BackendPaths
    api_connect_timeout: float
    api_read_timeout: float
    state_pending: int
    state_done: int
    state_failed: int
    document_type: int
    vucem_url: str
    vucem_connect_timeout: float
    vucem_read_timeout: float
    vucem_tls_security_level: int
    vucem_max_reply_bytes: int
    request_delay: float
    vucem_max_consecutive_failures: int
    retry_policy: RetryPolicy
    shutdown_grace: float
    claim_lease: float

    @classmethod
    def from_settings(cls, **overrides) -> "ProcessingConfig":
        """Build the config from Django settings, checking every value.

        Raise ``ImproperlyConfigured`` naming every invalid setting at once.
        """
        s = settings
        config = cls(
            api_url=s.API_URL,
            api_token=s.API_TOKEN,
            api_page_size=s.API_PAGE_SIZE,
            api_paths=BackendPaths(
                services=s.API_SERVICES_PATH,
                credentials=s.API_CREDENTIALS_PATH,
                documents=s.API_DOCUMENTS_PATH,
            ),
            api_connect_timeout=s.API_CONNECT_TIMEOUT,
            api_read_timeout=s.API_READ_TIMEOUT,
            state_pending=s.SERVICE_STATE_PENDING,
            state_done=s.SERVICE_STATE_DONE,
            state_failed=s.SERVICE_STATE_FAILED,
            document_type=s.DOCUMENT_TYPE_PEDIMENTO_COMPLETO,
            vucem_url=s.VUCEM_URL,
            vucem_connect_timeout=s.VUCEM_CONNECT_TIMEOUT,
            vucem_read_timeout=s.VUCEM_READ_TIMEOUT,
            vucem_tls_security_level=s.VUCEM_TLS_SECURITY_LEVEL,
            vucem_max_reply_bytes=s.VUCEM_MAX_REPLY_BYTES,
            request_delay=s.REQUEST_DELAY_SECONDS,
            vucem_max_consecutive_failures=s.VUCEM_MAX_CONSECUTIVE_FAILURES,
            retry_policy=RetryPolicy(
                max_attempts=s.MAX_RETRIES,
                backoff=s.RETRY_BACKOFF_SECONDS,
                backoff_max=s.RETRY_BACKOFF_MAX_SECONDS,
                retry_after_max=s.RETRY_AFTER_MAX_SECONDS,
            ),
            shutdown_grace=s.SHUTDOWN_GRACE_SECONDS,
            claim_lease=s.CLAIM_LEASE_SECONDS,
        )
        if overrides:
            config = replace(config, **overrides)
        config.check()
        return config

    def check(self) -> None:
        """Raise ``ImproperlyConfigured`` listing every invalid value."""
        problems = []
        if not self.api_token:
            problems.append("API_TOKEN is empty: set the backend's DRF token in .env or the environment")
        for name, url in (("API_URL", self.api_url), ("VUCEM_URL", self.vucem_url)):
            if not url.startswith(("http://", "https://")):
                problems.append(f"{name}={url!r} is not an http(s) URL")
        if self.api_page_size < 1:
            problems.append(f"API_PAGE_SIZE={self.api_page_size} must be at least 1")
        if len({self.state_pending, self.state_done, self.state_failed}) != 3:
            problems.append(
                "SERVICE_STATE_PENDING, SERVICE_STATE_DONE and SERVICE_STATE_FAILED "
                f"must differ (got {self.state_pending}, {self.state_done}, {self.state_failed})"
            )
        if self.request_delay < 0:
            problems.append(f"REQUEST_DELAY_SECONDS={self.request_delay} must be 0 or more")
        if self.vucem_max_consecutive_failures < 0:
            problems.append(
                f"VUCEM_MAX_CONSECUTIVE_FAILURES={self.vucem_max_consecutive_failures} "
                "must be 0 (no limit) or more"
            )
        if self.retry_policy.max_attempts < 1:
            problems.append(f"MAX_RETRIES={self.retry_policy.max_attempts} must be at least 1")
        for name, value in (
            ("API_CONNECT_TIMEOUT", self.api_connect_timeout),
            ("API_READ_TIMEOUT", self.api_read_timeout),
            ("VUCEM_CONNECT_TIMEOUT", self.vucem_connect_timeout),
            ("VUCEM_READ_TIMEOUT", self.vucem_read_timeout),
            ("CLAIM_LEASE_SECONDS", self.claim_lease),
        ):
            if value <= 0:
                problems.append(f"{name}={value} must be more than 0 seconds")
        for name, value in (
            ("SHUTDOWN_GRACE_SECONDS", self.shutdown_grace),
            ("RETRY_BACKOFF_SECONDS", self.retry_policy.backoff),
            ("RETRY_BACKOFF_MAX_SECONDS", self.retry_policy.backoff_max),
            ("RETRY_AFTER_MAX_SECONDS", self.retry_policy.retry_after_max),
        ):
            if value < 0:
                problems.append(f"{name}={value} must be 0 seconds or more")
        if self.vucem_max_reply_bytes < 1024:
            problems.append(f"VUCEM_MAX_REPLY_BYTES={self.vucem_max_reply_bytes} must be at least 1024")
        if not 0 <= self.vucem_tls_security_level <= 5:
            problems.append(f"VUCEM_TLS_SECURITY_LEVEL={self.vucem_tls_security_level} must be 0 to 5")
        if problems:
            raise ImproperlyConfigured("Invalid settings: " + "; ".join(problems) + ".")
