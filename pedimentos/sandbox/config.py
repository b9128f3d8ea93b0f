"""Configuration of the sandbox: seed, data size and fault-injection knobs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

# Outcome names accepted by ``SimulatedVucem.script()``.
SCRIPTED_OUTCOMES = frozenset(
    {
        "ok",
        "503",
        "html502",
        "html200",
        "empty",
        "drop",
        "hang",
        "429",
        "fault",
        "auth",
        "business",
        "business2",
        "multipart",
        "multipart_noroot",
        "doctype",
        "billion",
        "huge",
        "truncated",
        "latin1",
        "mojibake",
    }
)

# VucemFaults shares of failed replies; their sum must not exceed 1.
FAILURE_SHARES = ("drop", "hang", "http_503", "html_502", "rate_limited", "soap_fault")

# How a backend that is "down" fails every request.
DOWN_MODES = ("503", "close")


def _check_share(owner: object, name: str) -> None:
    value = getattr(owner, name)
    if not 0.0 <= value <= 1.0:
        raise ValueError(
            f"{type(owner).__name__}.{name} must be in 0..1, got {value!r}"
        )


@dataclass(frozen=True)
class VucemFaults:
    """Fault knobs of the simulated VUCEM.

    Shares are probabilities drawn per request from an RNG seeded with the
    sandbox seed, so the same seed and request order give the same faults.
    Times are in seconds. Business errors are not a knob: they come from the
    data (pedimentos the simulated VUCEM does not store).
    """

    latency: float = 0.0
    # Extra latency drawn uniformly from 0..latency_jitter per request.
    latency_jitter: float = 0.0
    http_503: float = 0.0
    html_502: float = 0.0
    drop: float = 0.0
    hang: float = 0.0
    hang_seconds: float = 30.0
    rate_limited: float = 0.0
    retry_after_seconds: int = 1
    soap_fault: float = 0.0
    multipart: float = 0.0
    # Minimum size of the reply sent for the scripted "huge" outcome.
    huge_bytes: int = 25 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in (*FAILURE_SHARES, "multipart"):
            _check_share(self, name)
        total = sum(getattr(self, name) for name in FAILURE_SHARES)
        if total > 1.0:
            raise ValueError(
                f"VucemFaults failure shares add up to {total:.3f}, above 1"
            )
        if self.latency < 0 or self.latency_jitter < 0 or self.hang_seconds < 0:
            raise ValueError(
                "VucemFaults latency, latency_jitter and hang_seconds must be >= 0"
            )

    @classmethod
    def demo(cls, **overrides) -> VucemFaults:
        """Return the demo mix: a few transient failures, faults and MTOM replies."""
        values = {
            "http_503": 0.03,
            "html_502": 0.02,
            "soap_fault": 0.01,
            "multipart": 0.02,
        }
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class BackendFaults:
    """Fault knobs of the simulated backend API.

    ``latency`` is in seconds and delays every request. Each ``*_5xx`` share
    makes that kind of request fail with HTTP 500 before it changes any
    state: ``upload_5xx`` for document uploads, ``update_5xx`` for service
    PUTs and ``page_5xx`` for pages of the service list.
    ``down_mode`` sets how requests fail while ``set_down(True)`` is on: "503"
    returns HTTP 503, "close" closes the connection without a response.
    ``upload_slow_seconds`` delays the answer to every upload after the
    document is stored, so a client read timeout loses a stored upload.
    ``invalid_page`` is a page number of the service list answered with a
    JSON object of the wrong shape (0 for none).
    """

    latency: float = 0.0
    upload_5xx: float = 0.0
    update_5xx: float = 0.0
    page_5xx: float = 0.0
    down_mode: str = "503"
    upload_slow_seconds: float = 0.0
    invalid_page: int = 0

    def __post_init__(self) -> None:
        for name in ("upload_5xx", "update_5xx", "page_5xx"):
            _check_share(self, name)
        if self.latency < 0 or self.upload_slow_seconds < 0:
            raise ValueError(
                "BackendFaults.latency and upload_slow_seconds must be >= 0"
            )
        if self.down_mode not in DOWN_MODES:
            raise ValueError(f"BackendFaults.down_mode must be one of {DOWN_MODES}")


@dataclass
class SandboxConfig:
    """Seed, data size, token and fault knobs of one sandbox.

    With ``default_mix=True`` the seeded data contains the demo cases
    (pedimentos VUCEM does not store, an importer with a wrong key, an
    importer without active credentials, services with invalid data) and,
    unless ``vucem`` is given, ``VucemFaults.demo()``. With
    ``default_mix=False`` all data is valid and every share defaults to 0.
    """

    seed: int = 1234
    services: int = 45
    importers: int = 6
    api_token: str = "sandbox-token"
    vucem: VucemFaults | None = None
    backend: BackendFaults = field(default_factory=BackendFaults)
    default_mix: bool = True

    def __post_init__(self) -> None:
        if self.services < 0:
            raise ValueError(f"services must be >= 0, got {self.services}")
        if self.importers < 1:
            raise ValueError(f"importers must be >= 1, got {self.importers}")
        if not self.api_token:
            raise ValueError("api_token must not be empty")
        if self.vucem is None:
            self.vucem = VucemFaults.demo() if self.default_mix else VucemFaults()

    def replace(self, **changes) -> SandboxConfig:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)
