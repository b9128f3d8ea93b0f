"""Client for the broker's backend API (a Django REST Framework service).

Every method makes one logical call and retries transient failures itself
(connection errors, timeouts, 5xx, 429) per the client's ``RetryPolicy``;
callers must not wrap these methods in another retry loop. HTTP and
requests errors are translated into ``pedimentos.exceptions`` in
``_send``, the one place that touches requests.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from urllib.parse import urljoin

import requests

from .exceptions import (
    BackendAuthError,
    BackendInvalidResponse,
    BackendRejected,
    BackendTransientError,
)
from .http import error_reason, new_session
from .retry import RetryPolicy, call_with_retry, parse_retry_after

logger = logging.getLogger(__name__)

# Maximum length of an error body quoted in a message, in characters.
MAX_QUOTED_BODY = 300


@dataclass(frozen=True)
class Page:
    """One page of the pending-services list."""

    number: int
    count: int
    results: list[dict]
    has_next: bool


@dataclass(frozen=True)
class BackendPaths:
    """Paths of the backend endpoints, relative to ``API_URL``."""

    services: str = "customs/procesamientopedimentos/"
    credentials: str = "vucem/vucem/"
    documents: str = "record/documents/"


@dataclass
class BackendClient:
    """Talk to the backend API with one requests session per thread."""

    api_url: str
    token: str = field(repr=False)
    paths: BackendPaths = BackendPaths()
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    retry_policy: RetryPolicy = RetryPolicy()
    sleep: object = None

    def __post_init__(self):
        self.api_url = self.api_url.rstrip("/") + "/"
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    # --- public calls -------------------------------------------------------

    def list_pending(self, *, page: int, page_size: int, state: int, service_type: int) -> Page | None:
        """Return one page of pending services, or None past the last page."""
        params = {"page": page, "page_size": page_size, "estado": state, "servicio": service_type}
        try:
            data = self._call("GET", self.paths.services, params=params, what=f"page {page}")
        except BackendRejected as error:
            # DRF returns 404 for a page past the end, which means no more services.
            if error.status_code == 404:
                return None
            raise
        if isinstance(data, list):
            results, count, has_next = data, len(data), False
        elif isinstance(data, dict) and isinstance(data.get("results"), list):
            results = data["results"]
            count = data.get("count") if isinstance(data.get("count"), int) else len(results)
            has_next = bool(data.get("next"))
        else:
            raise BackendInvalidResponse(
                f"Page {page} of pending services is not a list nor an object with "
                f"'results' (got {_describe(data)}); check API_URL and API_SERVICES_PATH."
            )
        return Page(number=page, count=count, results=results, has_next=has_next)

    def get_service(self, service_id: int) -> dict:
        """Return one service by id."""
        data = self._call("GET", f"{self.paths.services}{service_id}/", what=f"service {service_id}")
        if not isinstance(data, dict):
            raise BackendInvalidResponse(f"Service {service_id} is not a JSON object (got {_describe(data)}).")
        return data

    def get_credentials(self, rfc: str) -> list[dict]:
        """Return the VUCEM credential entries the backend has for an RFC."""
        data = self._call("GET", self.paths.credentials, params={"usuario": rfc}, what=f"credentials of {rfc}")
        if isinstance(data, dict) and isinstance(data.get("results"), list):
            data = data["results"]
        if not isinstance(data, list):
            raise BackendInvalidResponse(
                f"Credentials of {rfc} are not a JSON list (got {_describe(data)})."
            )
        return [entry for entry in data if isinstance(entry, dict)]

    def find_documents(self, *, pedimento_uuid: str, document_type: int) -> list[dict]:
        """Return the documents of a pedimento with the given type."""
        params = {"pedimento": pedimento_uuid, "document_type": document_type}
        data = self._call("GET", self.paths.documents, params=params, what=f"documents of {pedimento_uuid}")
        if isinstance(data, dict) and isinstance(data.get("results"), list):
            data = data["results"]
        if not isinstance(data, list):
            raise BackendInvalidResponse(f"Document list is not a JSON list (got {_describe(data)}).")
        return [entry for entry in data if isinstance(entry, dict)]

    def upload_document(
        self,
        *,
        filename: str,
        content: bytes,
        organizacion: str,
        pedimento_uuid: str,
        document_type: int,
        extension: str = "xml",
        content_type: str = "application/xml",
    ) -> dict:
        """Upload a document as multipart/form-data and return the created record.

        A retry after a timeout that may have reached the backend first checks
        with the backend whether the document is already there, so a slow backend
        does not end up with two copies.
        """
        form = {
            "organizacion": organizacion,
            "pedimento": pedimento_uuid,
            "extension": extension,
            "document_type": str(document_type),
            "size": str(len(content)),
        }
        what = f"upload of {filename}"
        found: list[dict] = []

        def send():
            files = {"archivo": (filename, content, content_type)}
            return self._send("POST", self.paths.documents, data=form, files=files, what=what)

        def check_before_retry(error):
            if getattr(error, "sent", False):
                existing = self._matching_document(pedimento_uuid, document_type, len(content))
                if existing is not None:
                    found.append(existing)
                    raise _AlreadyUploaded()

        try:
            data = call_with_retry(
                send, self.retry_policy, description=what,
                sleep=self._sleep, before_retry=check_before_retry,
            )
        except _AlreadyUploaded:
            logger.info("Document for pedimento %s was already uploaded (id %s); not sending it again",
                        pedimento_uuid, found[0].get("id"))
            return found[0]
        if not isinstance(data, dict) or data.get("id") in (None, ""):
            raise BackendInvalidResponse(f"Upload of {filename} returned no document id (got {_describe(data)}).")
        return data

    def update_service(self, service_id: int, payload: dict) -> dict:
        """PUT a service's new state; ``payload`` contains every field the API requires."""
        data = self._call("PUT", f"{self.paths.services}{service_id}/", json=payload, what=f"update of service {service_id}")
        return data if isinstance(data, dict) else {}

    def close(self) -> None:
        """Close every session this client opened."""
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
        self._local = threading.local()

    # --- internals ----------------------------------------------------------

    def _matching_document(self, pedimento_uuid, document_type, size):
        for document in self.find_documents(pedimento_uuid=pedimento_uuid, document_type=document_type):
            if str(document.get("size")) == str(size):
                return document
        return None

    def _sleep(self, seconds):
        if self.sleep is not None:
            return self.sleep(seconds)
        import time

        time.sleep(seconds)
        return True

    def _call(self, method, path, *, what, **kwargs):
        return call_with_retry(
            lambda: self._send(method, path, what=what, **kwargs),
            self.retry_policy,
            description=f"Backend {what}",
            sleep=self._sleep,
        )

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = new_session(self.api_url)
            session.headers["Authorization"] = f"Token {self.token}"
            session.headers["Accept"] = "application/json"
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def _send(self, method, path, *, what, **kwargs):
        """Send one request and translate every failure into our exceptions."""
        url = urljoin(self.api_url, path)
        timeout = (self.connect_timeout, self.read_timeout)
        try:
            response = self._session().request(method, url, timeout=timeout, **kwargs)
        except requests.ConnectTimeout as error:
            raise BackendTransientError(f"Backend {what}: connection to {self.api_url} timed out") from error
        except requests.ReadTimeout as error:
            raise BackendTransientError(
                f"Backend {what}: no response within {self.read_timeout:g} s (read timeout)", sent=True
            ) from error
        except requests.ConnectionError as error:
            raise BackendTransientError(
                f"Backend {what}: cannot connect to {self.api_url} ({error_reason(error)})",
                sent=method != "GET",
            ) from error
        except requests.RequestException as error:
            raise BackendTransientError(f"Backend {what} failed: {error_reason(error)}", sent=True) from error

        status = response.status_code
        if status == 401:
            raise BackendAuthError(
                "The backend rejected the API token (HTTP 401); check API_TOKEN.", status_code=401
            )
        if status == 429 or status >= 500:
            raise BackendTransientError(
                f"Backend {what}: HTTP {status} {_quote(response)}".rstrip(),
                status_code=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                sent=True,
            )
        if status >= 400:
            raise BackendRejected(f"Backend {what}: HTTP {status} {_quote(response)}".rstrip(), status_code=status)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise BackendInvalidResponse(
                f"Backend {what}: HTTP {status} with a body that is not JSON {_quote(response)}",
                status_code=status,
            ) from error


class _AlreadyUploaded(Exception):
    """Internal signal: a lost upload turned out to have reached the backend."""


def _describe(data) -> str:
    if isinstance(data, dict):
        keys = ", ".join(sorted(map(str, data))[:8])
        return f"an object with keys {keys or 'none'}"
    return type(data).__name__


def _quote(response) -> str:
    text = response.text.strip().replace("\n", " ")
    if not text:
        return ""
    if len(text) > MAX_QUOTED_BODY:
        text = text[:MAX_QUOTED_BODY] + "..."
    return f"({text})"
