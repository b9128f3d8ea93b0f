"""HTTP transport to VUCEM: the TLS adapter, one POST and the bounded body read.

Errors from requests are translated into ``VucemTransportError`` at one
place, ``post_soap``. There are no retries here: the adapter is built with
``max_retries=0``, and the runner's retry policy decides what happens next.
"""

from __future__ import annotations

import ssl
import time
from contextlib import contextmanager
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import ReadTimeoutError

from pedimentos.exceptions import VucemInvalidReply, VucemTransportError
from pedimentos.http import error_reason, new_session

# Bytes read from the socket at a time. A reply over the limit is cut after
# at most one more chunk.
CHUNK_SIZE = 64 * 1024

REQUEST_HEADERS = {
    "Content-Type": "text/xml; charset=utf-8",
    # SOAP 1.1 requires the header. VUCEM's pedimentos services ignore its
    # value, and working clients send it empty.
    "SOAPAction": '""',
    "Accept": "text/xml, multipart/related",
}


def build_ssl_context(security_level: int) -> ssl.SSLContext:
    """Return a verifying TLS context at OpenSSL ``security_level`` (0-5)."""
    if not 0 <= security_level <= 5:
        raise ValueError(
            f"Invalid TLS security level {security_level!r}: expected 0 to 5."
        )
    context = ssl.create_default_context()
    # VUCEM offers DH parameters that OpenSSL 3's default level 2 rejects
    # ("dh key too small"). Lowering the level keeps certificate and host
    # name verification on.
    context.set_ciphers(f"DEFAULT:@SECLEVEL={security_level}")
    return context


class SecurityLevelAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose TLS connections use ``build_ssl_context``."""

    def __init__(self, security_level: int = 1, *, ssl_context=None, **kwargs):
        self.security_level = security_level
        self.ssl_context = ssl_context or build_ssl_context(security_level)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = self.ssl_context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        proxy_kwargs["ssl_context"] = self.ssl_context
        return super().proxy_manager_for(proxy, **proxy_kwargs)


def build_session(
    security_level: int, base_url: str = "https://", *, ssl_context=None
) -> requests.Session:
    """Return a session for VUCEM with the TLS adapter mounted for https://."""
    session = new_session(base_url)
    # max_retries=0: one call is one HTTP request.
    adapter = SecurityLevelAdapter(security_level, ssl_context=ssl_context, max_retries=0)
    session.mount("https://", adapter)
    return session


@dataclass(frozen=True)
class RawReply:
    """The status, headers and body of one HTTP reply, with the time it took."""

    status_code: int
    headers: CaseInsensitiveDict
    content: bytes
    elapsed: float


def post_soap(
    session: requests.Session,
    url: str,
    envelope: bytes,
    *,
    connect_timeout: float,
    read_timeout: float,
    max_reply_bytes: int,
) -> RawReply:
    """POST ``envelope`` to ``url`` and return the reply body, bounded in size."""
    started = time.monotonic()
    with _translate_errors(url, connect_timeout, read_timeout):
        response = session.post(
            url,
            data=envelope,
            headers=REQUEST_HEADERS,
            timeout=(connect_timeout, read_timeout),
            stream=True,
        )
        try:
            content = _read_limited(response, max_reply_bytes)
        finally:
            response.close()

    return RawReply(
        status_code=response.status_code,
        headers=response.headers,
        content=content,
        elapsed=time.monotonic() - started,
    )


def _read_limited(response: requests.Response, max_reply_bytes: int) -> bytes:
    """Read the body, raising ``VucemInvalidReply`` once it passes the limit."""
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > max_reply_bytes:
        raise _too_large(response.status_code, f"{int(declared)} bytes declared")

    chunks = []
    received = 0
    # NOTE: the read timeout applies to each socket read, not to the whole
    # body, so a server that trickles bytes can hold a call for longer.
    for chunk in response.iter_content(chunk_size=CHUNK_SIZE):
        received += len(chunk)
        if received > max_reply_bytes:
            raise _too_large(response.status_code, f"over {max_reply_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(status_code: int, size: str) -> VucemInvalidReply:
    return VucemInvalidReply(
        f"VUCEM's reply is too large ({size}, HTTP {status_code}); the limit "
        f"is VUCEM_MAX_REPLY_BYTES.",
        status_code=status_code,
    )


@contextmanager
def _translate_errors(url: str, connect_timeout: float, read_timeout: float):
    """Turn requests' network errors into ``VucemTransportError``."""
    try:
        yield
    except requests.exceptions.ConnectTimeout as exc:
        raise VucemTransportError(
            f"Could not connect to VUCEM at {url} within {connect_timeout:g} s "
            f"(connect timeout)."
        ) from exc
    except requests.exceptions.ReadTimeout as exc:
        raise _read_timeout(read_timeout) from exc
    except requests.exceptions.SSLError as exc:
        raise VucemTransportError(
            f"TLS handshake with VUCEM at {url} failed: {error_reason(exc)}. If the "
            f"error mentions 'dh key too small', lower VUCEM_TLS_SECURITY_LEVEL."
        ) from exc
    except requests.exceptions.ChunkedEncodingError as exc:
        raise VucemTransportError(
            f"VUCEM's reply was cut off while reading it (broken chunked "
            f"encoding or connection closed): {error_reason(exc)}."
        ) from exc
    except requests.exceptions.ContentDecodingError as exc:
        raise VucemTransportError(
            f"VUCEM's compressed reply could not be decoded: {error_reason(exc)}."
        ) from exc
    except requests.exceptions.ConnectionError as exc:
        # iter_content reports a read timeout in the body as ConnectionError.
        if exc.args and isinstance(exc.args[0], ReadTimeoutError):
            raise _read_timeout(read_timeout) from exc
        raise VucemTransportError(
            f"Connection to VUCEM at {url} failed (connection error): {error_reason(exc)}."
        ) from exc


def _read_timeout(read_timeout: float) -> VucemTransportError:
    return VucemTransportError(
        f"VUCEM did not respond within {read_timeout:g} s (read timeout)."
    )
