"""Tests for the interpretation of ConsultarPedimentoCompleto replies."""

import base64
import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from pedimentos.exceptions import (
    VucemAuthFailed,
    VucemBusinessError,
    VucemFault,
    VucemInvalidReply,
    VucemTransportError,
)
from pedimentos.vucem import PedimentoCompletoReply, parse_pedimento_completo_reply
from pedimentos.vucem.replies import parse_retry_after, repair_mojibake

SAMPLES = Path(__file__).parent / "samples"
XML = {"Content-Type": "text/xml; charset=utf-8"}
MTOM = (
    'multipart/related; start="<rootpart*{uuid}@example.jaxws.sun.com>"; '
    'type="application/xop+xml"; boundary="uuid:{uuid}"; start-info="text/xml"'
)


def sample(name: str) -> bytes:
    data = (SAMPLES / name).read_bytes()
    if name.endswith(".mime"):
        # MIME needs CRLF line ends; the files are kept with LF so that a
        # checkout's line-end conversion cannot change them.
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return data


def parse(name_or_bytes, status_code=200, headers=XML):
    content = name_or_bytes
    if isinstance(content, str):
        content = sample(content)
    return parse_pedimento_completo_reply(status_code, headers, content)


# --- Success ----------------------------------------------------------------


def test_reply_success_2015_map():
    content = sample("success_2015.xml")

    reply = parse(content)

    assert isinstance(reply, PedimentoCompletoReply)
    assert reply.numero_operacion == "3012345678"
    assert reply.pedimento == "5001234"
    assert reply.partidas == [1]
    assert reply.xml == content
    assert reply.size == len(content)
    assert reply.sha256 == hashlib.sha256(content).hexdigest()


def test_reply_success_2012_map():
    reply = parse("success_2012.xml")

    assert reply.numero_operacion == "12345"
    assert reply.pedimento == "2000123"
    assert reply.partidas == []


def test_reply_padded_fields_stripped():
    reply = parse("success_padded.xml")

    assert reply.numero_operacion == "3012345678"
    assert reply.pedimento == "5001234"
    assert reply.partidas == [1, 2]


def test_reply_unordered_partidas_sorted():
    reply = parse("success_unordered_partidas.xml")

    assert reply.partidas == [1, 2, 3, 4, 5, 6, 7, 8]
    assert reply.numero_operacion == "7004561230"


def test_reply_repr_omits_xml():
    reply = parse("success_2015.xml")

    assert "Envelope" not in repr(reply)


def test_reply_unknown_prefixes_by_uri():
    content = (
        sample("success_2015.xml")
        .replace(b"ns2:", b"pc:")
        .replace(b"xmlns:ns2=", b"xmlns:pc=")
    )

    reply = parse(content)

    assert reply.pedimento == "5001234"


def test_reply_wrong_namespace_is_invalid():
    content = sample("success_2015.xml").replace(
        b"oxml/consultarpedimentocompleto", b"oxml/consultarpartida"
    )

    with pytest.raises(VucemInvalidReply):
        parse(content)


def test_reply_bad_partida_is_invalid():
    content = sample("success_2015.xml").replace(
        b"<ns2:partidas>1<", b"<ns2:partidas>uno<"
    )

    with pytest.raises(VucemInvalidReply) as caught:
        parse(content)

    assert "'uno'" in str(caught.value)


def test_reply_missing_tiene_error_is_invalid():
    content = sample("success_2015.xml").replace(
        b"<ns3:tieneError>false</ns3:tieneError>", b""
    )

    with pytest.raises(VucemInvalidReply):
        parse(content)


# --- Business errors ----------------------------------------------------------


def test_reply_error_one_mensaje():
    with pytest.raises(VucemBusinessError) as caught:
        parse("error_one_mensaje.xml")

    assert caught.value.messages == ["No hay información para la búsqueda solicitada"]
    assert str(caught.value) == "No hay información para la búsqueda solicitada"


def test_reply_error_several_mensaje():
    with pytest.raises(VucemBusinessError) as caught:
        parse("error_several_mensaje.xml")

    assert caught.value.messages == [
        "El valor de [Aduana] no es válido",
        "El valor de [Patente] es obligatorio",
    ]
    assert str(caught.value) == (
        "El valor de [Aduana] no es válido; El valor de [Patente] es obligatorio"
    )


def test_reply_error_repeated_error():
    with pytest.raises(VucemBusinessError) as caught:
        parse("error_repeated_error.xml")

    assert len(caught.value.messages) == 2
    assert str(caught.value).count("; ") == 1


def test_reply_error_on_500_is_transport_error():
    with pytest.raises(VucemTransportError) as caught:
        parse("error_one_mensaje.xml", status_code=500)

    assert caught.value.status_code == 500


def test_reply_iso_8859_1_declared():
    with pytest.raises(VucemBusinessError) as caught:
        parse("iso_8859_1.xml", headers={"Content-Type": "text/xml"})

    assert caught.value.messages == ["No hay información para la búsqueda solicitada"]


def test_reply_latin1_charset_from_http():
    content = sample("iso_8859_1.xml").split(b"\n", 1)[1]

    with pytest.raises(VucemBusinessError) as caught:
        parse(content, headers={"Content-Type": "text/xml; charset=ISO-8859-1"})

    assert caught.value.messages == ["No hay información para la búsqueda solicitada"]


def test_reply_undeclared_latin1_bytes():
    content = sample("iso_8859_1.xml").split(b"\n", 1)[1]

    with pytest.raises(VucemBusinessError) as caught:
        parse(content, headers={"Content-Type": "text/xml"})

    assert caught.value.messages == ["No hay información para la búsqueda solicitada"]


def test_reply_mojibake_repaired():
    content = sample("mojibake.xml")

    with pytest.raises(VucemBusinessError) as caught:
        parse(content)

    assert caught.value.messages == [
        "El pedimento no está disponible porque el RFC no cuenta con autorización"
    ]


def test_repair_mojibake_leaves_good_text():
    assert repair_mojibake("está") == "está"
    assert repair_mojibake("Ã solo") == "Ã solo"


# --- Faults -------------------------------------------------------------------


def test_reply_failed_authentication():
    with pytest.raises(VucemAuthFailed) as caught:
        parse("fault_failed_authentication.xml", status_code=500)

    assert caught.value.code == "wsse:FailedAuthentication"
    assert caught.value.fault_string == "Failed to assert identity with UsernameToken."
    assert caught.value.context["status_code"] == 500


def test_reply_failed_authentication_other_prefix():
    content = (
        sample("fault_failed_authentication.xml")
        .replace(b"xmlns:wsse=", b"xmlns:sec=")
        .replace(b">wsse:", b">sec:")
    )

    with pytest.raises(VucemAuthFailed) as caught:
        parse(content, status_code=500)

    assert caught.value.code == "sec:FailedAuthentication"


def test_reply_failed_authentication_wrong_uri():
    content = sample("fault_failed_authentication.xml").replace(
        b"oasis-200401-wss-wssecurity-secext-1.0.xsd", b"other"
    )

    with pytest.raises(VucemFault) as caught:
        parse(content, status_code=500)

    assert not isinstance(caught.value, VucemAuthFailed)


def test_reply_invalid_security():
    with pytest.raises(VucemFault) as caught:
        parse("fault_invalid_security.xml", status_code=500)

    assert not isinstance(caught.value, VucemAuthFailed)
    assert caught.value.code == "wsse:InvalidSecurity"
    assert "more than one Security header" in caught.value.fault_string


def test_reply_server_fault_undeclared_prefix():
    with pytest.raises(VucemFault) as caught:
        parse("fault_server_undeclared_prefix.xml", status_code=500)

    assert caught.value.code == "S:Server"
    assert 'Undeclared namespace prefix "res"' in caught.value.fault_string


def test_reply_client_fault_eof():
    with pytest.raises(VucemFault) as caught:
        parse("fault_client_eof.xml", status_code=500)

    assert caught.value.code == "S:Client"
    assert "Unexpected EOF in prolog" in caught.value.fault_string


def test_reply_ns2_client_fault():
    with pytest.raises(VucemFault) as caught:
        parse("fault_ns2_client.xml", status_code=500)

    assert caught.value.code == "ns2:Client"
    assert caught.value.fault_string.startswith("Cannot find dispatch method")


def test_reply_fault_on_503_is_fault():
    with pytest.raises(VucemFault):
        parse("fault_invalid_security.xml", status_code=503)


def test_reply_soap12_failed_authentication():
    content = b"""<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"
      xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
      <env:Body><env:Fault>
        <env:Code><env:Value>env:Sender</env:Value>
          <env:Subcode><env:Value>wsse:FailedAuthentication</env:Value></env:Subcode>
        </env:Code>
        <env:Reason><env:Text xml:lang="en">Bad key</env:Text></env:Reason>
      </env:Fault></env:Body></env:Envelope>"""

    with pytest.raises(VucemAuthFailed) as caught:
        parse(content, status_code=500)

    assert caught.value.code == "env:Sender/wsse:FailedAuthentication"
    assert caught.value.fault_string == "Bad key"


# --- Not SOAP -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status_code", "content_type"),
    [
        ("html_502.html", 502, "text/html"),
        ("html_200_maintenance.html", 200, "text/html; charset=utf-8"),
        ("html_200_maintenance.html", 200, "text/xml"),
        ("not_soap.xml", 200, "text/xml"),
        ("truncated.xml", 200, "text/xml"),
    ],
)
def test_reply_not_soap_is_transport_error(name, status_code, content_type):
    with pytest.raises(VucemTransportError) as caught:
        parse(name, status_code=status_code, headers={"Content-Type": content_type})

    assert caught.value.status_code == status_code
    assert f"HTTP {status_code}" in str(caught.value)


@pytest.mark.parametrize("content", [b"", b"  \r\n"])
def test_reply_empty_body(content):
    with pytest.raises(VucemTransportError) as caught:
        parse(content, status_code=200)

    assert "empty body" in str(caught.value)


def test_reply_success_on_503_is_transport_error():
    with pytest.raises(VucemTransportError) as caught:
        parse("success_2015.xml", status_code=503)

    assert caught.value.status_code == 503


def test_reply_429_retry_after_seconds():
    headers = {"Content-Type": "text/html", "Retry-After": "120"}

    with pytest.raises(VucemTransportError) as caught:
        parse(b"<html>Too many requests</html>", status_code=429, headers=headers)

    assert caught.value.retry_after == 120.0
    assert caught.value.status_code == 429


def test_reply_429_retry_after_date():
    moment = datetime.now(UTC).replace(microsecond=0).timestamp() + 300
    date = format_datetime(datetime.fromtimestamp(moment, UTC), usegmt=True)
    headers = {"Content-Type": "text/plain", "Retry-After": date}

    with pytest.raises(VucemTransportError) as caught:
        parse(b"slow down", status_code=429, headers=headers)

    assert 290 <= caught.value.retry_after <= 300


def test_reply_503_without_retry_after():
    with pytest.raises(VucemTransportError) as caught:
        parse("html_502.html", status_code=503, headers={"content-type": "text/html"})

    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("30", 30.0),
        ("-5", 0.0),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),
        ("Wed, 21 Oct 2015 07:28:00 -0000", 60.0),
        ("Wed, 21 Oct 2015 07:20:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value, expected):
    now = datetime(2015, 10, 21, 7, 27, tzinfo=UTC).timestamp()

    assert parse_retry_after(value, now=now) == expected


# --- Unsafe XML ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["doctype.xml", "external_entity.xml", "billion_laughs.xml"]
)
def test_reply_dtd_is_invalid_reply(name):
    with pytest.raises(VucemInvalidReply) as caught:
        parse(name)

    assert "DTD" in str(caught.value)


def test_reply_truncated_dtd_is_invalid_reply():
    content = sample("billion_laughs.xml")[:-40]

    with pytest.raises(VucemInvalidReply):
        parse(content)


def test_reply_billion_laughs_not_expanded():
    with pytest.raises(VucemInvalidReply) as caught:
        parse("billion_laughs.xml")

    assert "haha" not in str(caught.value)


# --- Multipart ----------------------------------------------------------------


def test_reply_multipart_by_start():
    uuid = "5c1a7f2e-0b7d-4f0e-9a51-3d2c8e6b4a10"
    headers = {"Content-Type": MTOM.format(uuid=uuid)}

    reply = parse("multipart_with_declaration.mime", headers=headers)

    assert reply.numero_operacion == "3098765432"
    assert reply.partidas == [1, 2]
    assert reply.xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?><S:Envelope")
    assert reply.xml.endswith(b"</S:Envelope>")
    assert b"uuid:" not in reply.xml


def test_reply_multipart_without_declaration():
    uuid = "9e0b4c1d-2f3a-4b5c-8d6e-7f8091a2b3c4"
    headers = {"Content-Type": f'multipart/related; boundary="uuid:{uuid}"'}

    reply = parse("multipart_without_declaration.mime", headers=headers)

    assert reply.pedimento == "6001111"
    assert reply.xml.startswith(b"<S:Envelope")
    assert reply.sha256 == hashlib.sha256(reply.xml).hexdigest()


def test_reply_multipart_root_missing():
    uuid = "5c1a7f2e-0b7d-4f0e-9a51-3d2c8e6b4a10"
    content_type = MTOM.format(uuid=uuid).replace(f"rootpart*{uuid}", "rootpart*gone")

    with pytest.raises(VucemInvalidReply) as caught:
        parse("multipart_root_missing.mime", headers={"Content-Type": content_type})

    assert "rootpart*gone" in str(caught.value)


def test_reply_multipart_without_boundary():
    headers = {"Content-Type": 'multipart/related; type="application/xop+xml"'}

    with pytest.raises(VucemInvalidReply):
        parse("multipart_without_declaration.mime", headers=headers)


def test_reply_multipart_base64_root():
    xml = sample("success_2015.xml")

    body = (
        b"--b1\r\nContent-ID: <root>\r\nContent-Type: text/xml\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(xml).replace(b"\n", b"\r\n")
        + b"\r\n--b1--\r\n"
    )
    headers = {"Content-Type": 'multipart/related; boundary=b1; start="<root>"'}

    reply = parse(body, headers=headers)

    assert reply.xml == xml


def test_reply_multipart_without_multipart_type():
    headers = {"Content-Type": "text/xml; charset=utf-8"}

    reply = parse("multipart_without_declaration.mime", headers=headers)

    assert reply.pedimento == "6001111"
    assert reply.xml.startswith(b"<S:Envelope")


def test_reply_fault_sent_as_html_type():
    headers = {"Content-Type": "text/html"}

    with pytest.raises(VucemAuthFailed):
        parse("fault_failed_authentication.xml", status_code=500, headers=headers)
