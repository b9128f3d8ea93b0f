"""Exceptions raised while processing pedimento services.

Two categories drive behaviour: a ``TransientError`` is retried with backoff,
a ``PermanentError`` fails the service at once. Each concrete class has an
``error_kind`` that is stored with the outcome; the set of kinds is fixed in
``ErrorKind``. Errors from requests, lxml and zeep are translated into these
classes at one place per client.
"""

from __future__ import annotations


class ErrorKind:
    """The fixed set of error kinds stored with a failed outcome."""

    INVALID_DATA = "invalid_data"
    NO_CREDENTIALS = "no_credentials"
    AUTH_FAILED = "auth_failed"
    VUCEM_ERROR = "vucem_error"
    SOAP_FAULT = "soap_fault"
    TRANSPORT = "transport"
    INVALID_REPLY = "invalid_reply"
    BACKEND_REJECTED = "backend_rejected"
    UPLOAD_FAILED = "upload_failed"
    UPDATE_FAILED = "update_failed"
    INTERNAL = "internal"


class PedimentosError(Exception):
    """Root of every error this app raises on purpose."""

    error_kind = ErrorKind.INTERNAL

    def __init__(self, message: str, **context):
        super().__init__(message)
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return self.message


class TransientError(PedimentosError):
    """A failure that may go away by itself; the call is retried."""

    # Seconds the server asked us to wait (HTTP Retry-After), if any.
    retry_after: float | None = None


class PermanentError(PedimentosError):
    """A failure that the same request will hit again; never retried."""


# --- Service data and credentials -------------------------------------------


class InvalidServiceData(PermanentError):
    """The service from the backend lacks a field or has a malformed one."""

    error_kind = ErrorKind.INVALID_DATA


class NoCredentials(PermanentError):
    """The backend has no active VUCEM credentials for the importer's RFC."""

    error_kind = ErrorKind.NO_CREDENTIALS


# --- VUCEM ------------------------------------------------------------------


class VucemError(PedimentosError):
    """Base class for failures of a VUCEM call."""


class VucemTransportError(VucemError, TransientError):
    """VUCEM could not be reached or replied with something that is not SOAP.

    Covers connection errors, timeouts, HTTP 5xx and 429 without a SOAP
    fault, HTML pages and empty or truncated bodies.
    """

    error_kind = ErrorKind.TRANSPORT

    def __init__(self, message, *, status_code=None, retry_after=None, **context):
        super().__init__(message, status_code=status_code, **context)
        self.status_code = status_code
        self.retry_after = retry_after


class VucemFault(VucemError, PermanentError):
    """VUCEM replied with a SOAP fault."""

    error_kind = ErrorKind.SOAP_FAULT

    def __init__(self, message, *, code: str, fault_string: str, **context):
        super().__init__(message, code=code, **context)
        self.code = code
        self.fault_string = fault_string


class VucemAuthFailed(VucemFault):
    """VUCEM rejected the RFC and web-service key (wsse:FailedAuthentication)."""

    error_kind = ErrorKind.AUTH_FAILED


class VucemBusinessError(VucemError, PermanentError):
    """VUCEM replied with ``tieneError`` true and one or more messages."""

    error_kind = ErrorKind.VUCEM_ERROR

    def __init__(self, message, *, messages: list[str], **context):
        super().__init__(message, **context)
        self.messages = messages


class VucemInvalidReply(VucemError, PermanentError):
    """The reply is unsafe or unusable: a DTD or entity, too large, no root part."""

    error_kind = ErrorKind.INVALID_REPLY


# --- Backend API ------------------------------------------------------------


class BackendError(PedimentosError):
    """Base class for failures of a backend API call."""

    def __init__(self, message, *, status_code=None, **context):
        super().__init__(message, status_code=status_code, **context)
        self.status_code = status_code


class BackendTransientError(BackendError, TransientError):
    """The backend was unreachable, timed out or returned 5xx or 429."""

    error_kind = ErrorKind.TRANSPORT

    def __init__(self, message, *, status_code=None, retry_after=None, sent=False, **context):
        super().__init__(message, status_code=status_code, **context)
        self.retry_after = retry_after
        # True when the request may have reached the backend (a read timeout
        # after sending), so a retried POST could create a duplicate.
        self.sent = sent


class BackendRejected(BackendError, PermanentError):
    """The backend refused one request (400, 403, 404, ...)."""

    error_kind = ErrorKind.BACKEND_REJECTED


class BackendAuthError(BackendError, PermanentError):
    """The backend rejected the API token (401). Aborts the whole run."""

    error_kind = ErrorKind.BACKEND_REJECTED


class BackendInvalidResponse(BackendError, PermanentError):
    """The backend returned JSON of an unexpected shape."""

    error_kind = ErrorKind.BACKEND_REJECTED


class RunAborted(PedimentosError):
    """The run cannot go on (bad settings, backend unreachable, token rejected)."""
