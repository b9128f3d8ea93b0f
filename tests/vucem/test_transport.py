"""Tests for the VUCEM transport over real loopback HTTP, and its TLS setup."""

import socket
import ssl
import time
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from pedimentos.exceptions import VucemInvalidReply, VucemTransportError
from pedimentos.vucem.transport import (
    SecurityLevelAdapter,
    build_session,
    build_ssl_context,
    post_soap,
)

SUCCESS = (Path(__file__).parent / "samples" / "success_2015.xml").read_bytes()


def post(url, *, read_timeout=5.0, max_reply_bytes=1024 * 1024):
    session = build_session(1)
    try:
        return post_soap(
            session,
            url,
            b"<envelope/>",
            connect_timeout=2.0,
            read_timeout=read_timeout,
            max_reply_bytes=max_reply_bytes,
        )
    finally:
        session.close()


def send_headers(handler, status=200, **headers):
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()


# --- Loopback HTTP ------------------------------------------------------------


def test_post_soap_sends_request(loopback):
    def respond(handler):
        send_headers(handler, Content_Type="text/xml", Content_Length=str(len(SUCCESS)))
        handler.wfile.write(SUCCESS)

    loopback.respond_with(respond)

    raw = post(loopback.base_url + "/service")

    path, headers, body = loopback.requests[0]
    assert path == "/service"
    assert body == b"<envelope/>"
    assert headers["Content-Type"] == "text/xml; charset=utf-8"
    assert headers["SOAPAction"] == '""'
    assert raw.status_code == 200
    assert raw.content == SUCCESS
    assert raw.headers["content-type"] == "text/xml"


def test_post_soap_read_timeout(loopback):
    def respond(handler):
        loopback.release.wait(10)

    loopback.respond_with(respond)
    started = time.monotonic()

    with pytest.raises(VucemTransportError) as caught:
        post(loopback.base_url, read_timeout=0.5)

    assert "read timeout" in str(caught.value)
    assert "0.5 s" in str(caught.value)
    assert time.monotonic() - started < 5


def test_post_soap_read_timeout_mid_body(loopback):
    def respond(handler):
        send_headers(handler, Content_Type="text/xml", Content_Length="5000")
        handler.wfile.write(SUCCESS[:100])
        handler.wfile.flush()
        loopback.release.wait(10)

    loopback.respond_with(respond)

    with pytest.raises(VucemTransportError) as caught:
        post(loopback.base_url, read_timeout=0.5)

    assert "read timeout" in str(caught.value)


def test_post_soap_connection_refused():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port once the probe socket is closed.

    with pytest.raises(VucemTransportError) as caught:
        post(f"http://127.0.0.1:{port}/service")

    assert "connection error" in str(caught.value)
    assert caught.value.status_code is None


def test_post_soap_body_cut_off(loopback):
    def respond(handler):
        send_headers(handler, Content_Type="text/xml", Content_Length="5000")
        handler.wfile.write(SUCCESS[:100])
        handler.close_connection = True

    loopback.respond_with(respond)

    with pytest.raises(VucemTransportError) as caught:
        post(loopback.base_url)

    assert "cut off" in str(caught.value)


def test_post_soap_stops_reading_large_body(loopback):
    total = 64 * 1024 * 1024
    sent = []

    def respond(handler):
        # No Content-Length: the body ends when the connection closes.
        send_headers(handler, Content_Type="text/xml")
        chunk = b"x" * 65536
        written = 0
        try:
            while written < total:
                handler.wfile.write(chunk)
                written += len(chunk)
        except OSError:
            pass
        finally:
            sent.append(written)

    loopback.respond_with(respond)

    with pytest.raises(VucemInvalidReply) as caught:
        post(loopback.base_url, max_reply_bytes=256 * 1024)

    assert "too large" in str(caught.value)
    assert loopback.handlers_done.wait(10)
    assert sent[0] < total


def test_post_soap_rejects_declared_length(loopback):
    def respond(handler):
        send_headers(handler, Content_Type="text/xml", Content_Length=str(10**9))
        handler.wfile.write(b"<S:Envelope")
        handler.wfile.flush()
        loopback.release.wait(10)

    loopback.respond_with(respond)
    started = time.monotonic()

    with pytest.raises(VucemInvalidReply) as caught:
        post(loopback.base_url, read_timeout=5.0, max_reply_bytes=1024)

    assert "1000000000 bytes declared" in str(caught.value)
    assert time.monotonic() - started < 4


def test_post_soap_accepts_body_at_limit(loopback):
    def respond(handler):
        send_headers(handler, Content_Type="text/xml")
        handler.wfile.write(SUCCESS)

    loopback.respond_with(respond)

    raw = post(loopback.base_url, max_reply_bytes=len(SUCCESS))

    assert raw.content == SUCCESS


def test_post_soap_one_request_on_503(loopback):
    def respond(handler):
        send_headers(handler, 503, Content_Length="0", Retry_After="7")

    loopback.respond_with(respond)

    raw = post(loopback.base_url)

    assert raw.status_code == 503
    assert raw.headers["Retry-After"] == "7"
    assert len(loopback.requests) == 1


# --- TLS ----------------------------------------------------------------------


@pytest.mark.parametrize("level", [0, 1, 2])
def test_ssl_context_security_level(level):
    context = build_ssl_context(level)

    assert context.security_level == level
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


@pytest.mark.parametrize("level", [-1, 6, "1"])
def test_ssl_context_bad_level(level):
    with pytest.raises((ValueError, TypeError)):
        build_ssl_context(level)


def test_adapter_passes_context_to_pools():
    adapter = SecurityLevelAdapter(0)

    assert adapter.poolmanager.connection_pool_kw["ssl_context"] is adapter.ssl_context
    assert adapter.ssl_context.security_level == 0
    assert adapter.ssl_context.verify_mode == ssl.CERT_REQUIRED


def test_adapter_passes_context_to_proxy():
    adapter = SecurityLevelAdapter(1)

    manager = adapter.proxy_manager_for("http://127.0.0.1:3128")

    assert manager.connection_pool_kw["ssl_context"] is adapter.ssl_context


def test_session_mounts_adapter_for_https_only():
    session = build_session(1)

    https = session.get_adapter("https://vucem.example/")
    http = session.get_adapter("http://127.0.0.1/")
    assert isinstance(https, SecurityLevelAdapter)
    assert https.max_retries.total == 0
    assert type(http) is HTTPAdapter
    session.close()


def test_session_not_global():
    build_session(0)

    other = requests.Session()

    assert not isinstance(
        other.get_adapter("https://vucem.example/"), SecurityLevelAdapter
    )
    other.close()
