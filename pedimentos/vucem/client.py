"""The VUCEM client: render the request, send it once, interpret the reply."""

from __future__ import annotations

import logging
import threading

from django.conf import settings

from .envelope import render_consultar_pedimento_completo
from .fields import Credentials, PedimentoQuery
from .replies import PedimentoCompletoReply, parse_pedimento_completo_reply
from .transport import build_session, build_ssl_context, post_soap

logger = logging.getLogger(__name__)

PEDIMENTO_COMPLETO_PATH = "/ventanilla-ws-pedimentos/ConsultarPedimentoCompletoService"


class VucemClient:
    """A client for VUCEM's ConsultarPedimentoCompleto service.

    One call sends exactly one HTTP request: retries and rate limiting belong
    to the caller. The client is thread-safe: each thread gets its own
    ``requests.Session``, and ``close()`` closes all of them, so call it once
    the threads are done.
    """

    def __init__(
        self,
        *,
        base_url: str,
        connect_timeout: float,
        read_timeout: float,
        max_reply_bytes: int,
        tls_security_level: int = 1,
    ):
        self.base_url = base_url.rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_reply_bytes = max_reply_bytes
        self.tls_security_level = tls_security_level
        # Built here so that an invalid level fails at once, and shared by
        # every thread's session: each context loads the CA store, about
        # 0.8 MB, and an SSLContext may serve many connections at once.
        self._ssl_context = build_ssl_context(tls_security_level)

        self._local = threading.local()
        self._lock = threading.Lock()
        self._sessions = []
        self._closed = False

    @classmethod
    def from_settings(cls) -> VucemClient:
        """Build a client from the ``VUCEM_*`` Django settings."""
        return cls(
            base_url=settings.VUCEM_URL,
            connect_timeout=settings.VUCEM_CONNECT_TIMEOUT,
            read_timeout=settings.VUCEM_READ_TIMEOUT,
            max_reply_bytes=settings.VUCEM_MAX_REPLY_BYTES,
            tls_security_level=settings.VUCEM_TLS_SECURITY_LEVEL,
        )

    @property
    def pedimento_completo_url(self) -> str:
        """URL of the ConsultarPedimentoCompleto endpoint."""
        return self.base_url + PEDIMENTO_COMPLETO_PATH

    def consultar_pedimento_completo(
        self, query: PedimentoQuery, credentials: Credentials
    ) -> PedimentoCompletoReply:
        """Query VUCEM for the complete pedimento with one HTTP request."""
        envelope = render_consultar_pedimento_completo(query, credentials)
        logger.debug(
            "VUCEM ConsultarPedimentoCompleto request: aduana=%s patente=%s "
            "pedimento=%s rfc=%s",
            query.aduana,
            query.patente,
            query.pedimento,
            credentials.username,
        )

        raw = post_soap(
            self._session(),
            self.pedimento_completo_url,
            envelope,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_reply_bytes=self.max_reply_bytes,
        )
        logger.debug(
            "VUCEM ConsultarPedimentoCompleto reply for %s: HTTP %s, %d bytes "
            "in %.2f s",
            query,
            raw.status_code,
            len(raw.content),
            raw.elapsed,
        )
        return parse_pedimento_completo_reply(raw.status_code, raw.headers, raw.content)

    def close(self) -> None:
        """Close every session this client opened; later calls raise RuntimeError."""
        with self._lock:
            self._closed = True
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def __enter__(self) -> VucemClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is not None and not self._closed:
            return session

        with self._lock:
            if self._closed:
                raise RuntimeError("This VucemClient is closed; create a new one.")
            session = build_session(
                self.tls_security_level, self.base_url, ssl_context=self._ssl_context
            )
            self._sessions.append(session)
        self._local.session = session
        return session
