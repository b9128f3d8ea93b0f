"""Tests for VucemClient end to end over loopback HTTP."""

import logging
import threading
from pathlib import Path

import pytest
from django.test import override_settings

from pedimentos.exceptions import VucemAuthFailed, VucemTransportError
from pedimentos.vucem import (
    Credentials,
    PedimentoQuery,
    VucemClient,
    render_consultar_pedimento_completo,
)

SAMPLES = Path(__file__).parent / "samples"
QUERY = PedimentoQuery(aduana="070", patente="3420", pedimento="5006792")
CREDENTIALS = Credentials(username="AAA010101AAA", password="Sup3r<Secret>&Key")
PATH = "/ventanilla-ws-pedimentos/ConsultarPedimentoCompletoService"


def make_client(base_url, **overrides):
    options = {
        "base_url": base_url,
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
        "max_reply_bytes": 1024 * 1024,
        "tls_security_level": 1,
    }
    options.update(overrides)
    return VucemClient(**options)


def reply_with(loopback, name, status=200):
    content = (SAMPLES / name).read_bytes()

    def respond(handler):
        handler.send_response(status)
        handler.send_header("Content-Type", "text/xml;charset=utf-8")
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    loopback.respond_with(respond)
    return content


def test_client_success(loopback):
    content = reply_with(loopback, "success_unordered_partidas.xml")

    with make_client(loopback.base_url + "/") as client:
        reply = client.consultar_pedimento_completo(QUERY, CREDENTIALS)

    path, headers, body = loopback.requests[0]
    assert path == PATH
    assert body == render_consultar_pedimento_completo(QUERY, CREDENTIALS)
    assert headers["SOAPAction"] == '""'
    assert reply.xml == content
    assert reply.partidas == [1, 2, 3, 4, 5, 6, 7, 8]


def test_client_auth_failed_hides_password(loopback):
    reply_with(loopback, "fault_failed_authentication.xml", status=500)

    with make_client(loopback.base_url) as client:
        with pytest.raises(VucemAuthFailed) as caught:
            client.consultar_pedimento_completo(QUERY, CREDENTIALS)

    assert CREDENTIALS.password not in str(caught.value)
    assert CREDENTIALS.password not in repr(caught.value.context)
    assert len(loopback.requests) == 1


def test_client_one_request_on_502(loopback):
    reply_with(loopback, "html_502.html", status=502)

    with make_client(loopback.base_url) as client:
        with pytest.raises(VucemTransportError) as caught:
            client.consultar_pedimento_completo(QUERY, CREDENTIALS)

    assert caught.value.status_code == 502
    assert len(loopback.requests) == 1


class ListHandler(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def log_records():
    """Collect DEBUG records of every logger, whatever LOGGING propagates."""
    handler = ListHandler()
    loggers = [logging.getLogger(), logging.getLogger("pedimentos")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield handler.records
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_client_logs_without_password(loopback, log_records):
    reply_with(loopback, "success_2015.xml")

    with make_client(loopback.base_url) as client:
        client.consultar_pedimento_completo(QUERY, CREDENTIALS)

    messages = [record.getMessage() for record in log_records]
    ours = [m for m in messages if m.startswith("VUCEM ConsultarPedimentoCompleto")]
    assert len(ours) == 2
    assert "aduana=070 patente=3420 pedimento=5006792" in ours[0]
    assert "HTTP 200" in ours[1]
    for message in messages:
        assert "Secret" not in message
        assert "Sup3r" not in message


def test_client_session_per_thread(loopback):
    reply_with(loopback, "success_2015.xml")
    client = make_client(loopback.base_url)
    errors = []

    def call():
        try:
            client.consultar_pedimento_completo(QUERY, CREDENTIALS)
            client.consultar_pedimento_completo(QUERY, CREDENTIALS)
        except Exception as exc:  # reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert errors == []
    assert len(client._sessions) == 3
    assert len(loopback.requests) == 6
    client.close()
    assert client._sessions == []


def test_client_closed_raises(loopback):
    reply_with(loopback, "success_2015.xml")
    client = make_client(loopback.base_url)
    client.consultar_pedimento_completo(QUERY, CREDENTIALS)

    client.close()

    with pytest.raises(RuntimeError):
        client.consultar_pedimento_completo(QUERY, CREDENTIALS)


def test_client_rejects_bad_tls_level():
    with pytest.raises(ValueError):
        make_client("https://vucem.invalid", tls_security_level=9)


@override_settings(
    VUCEM_URL="http://127.0.0.1:9/",
    VUCEM_CONNECT_TIMEOUT=3.0,
    VUCEM_READ_TIMEOUT=7.0,
    VUCEM_MAX_REPLY_BYTES=1234,
    VUCEM_TLS_SECURITY_LEVEL=0,
)
def test_client_from_settings():
    client = VucemClient.from_settings()

    assert client.pedimento_completo_url == "http://127.0.0.1:9" + PATH
    assert client.connect_timeout == 3.0
    assert client.read_timeout == 7.0
    assert client.max_reply_bytes == 1234
    assert client.tls_security_level == 0
