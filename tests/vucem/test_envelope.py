"""Tests for the rendered ConsultarPedimentoCompleto request envelope."""

from pathlib import Path

import pytest
from lxml import etree

from pedimentos.exceptions import InvalidServiceData
from pedimentos.vucem import (
    Credentials,
    PedimentoQuery,
    render_consultar_pedimento_completo,
)
from pedimentos.vucem import namespaces as ns

GOLDEN = Path(__file__).parent / "golden" / "consultar_pedimento_completo.xml"
QUERY = PedimentoQuery(aduana="070", patente="3420", pedimento="5006792")


def render(username="AAA010101AAA", password="key"):
    credentials = Credentials(username=username, password=password)
    return render_consultar_pedimento_completo(QUERY, credentials)


def parse(envelope: bytes):
    return etree.fromstring(envelope, parser=etree.XMLParser(resolve_entities=False))


def test_envelope_matches_golden():
    envelope = render(username="MUÑ&850101AB1", password="k3y<&>\"'Zz")

    assert envelope == GOLDEN.read_bytes()


def test_envelope_is_utf8():
    envelope = render(username="MUÑ&850101AB1")

    assert "MUÑ&amp;850101AB1".encode() in envelope
    assert envelope.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<soapenv')


@pytest.mark.parametrize("special", ["&", "<", ">", '"', "'", "&amp;", "]]>"])
def test_envelope_escapes_values(special):
    username = f"A{special}B010101XY9"
    password = f"p{special}w{special}"

    root = parse(render(username=username, password=password))

    token = f"{{{ns.WSSE}}}UsernameToken"
    assert root.findtext(f".//{token}/{{{ns.WSSE}}}Username") == username
    assert root.findtext(f".//{token}/{{{ns.WSSE}}}Password") == password


def test_envelope_has_one_security_header():
    root = parse(render())

    header = root.find(f"{{{ns.SOAP11_ENV}}}Header")
    securities = root.findall(f".//{{{ns.WSSE}}}Security")
    assert len(securities) == 1
    assert securities[0].getparent() is header
    assert securities[0].get(f"{{{ns.SOAP11_ENV}}}mustUnderstand") == "1"


def test_envelope_password_type_is_text():
    root = parse(render())

    password = root.find(f".//{{{ns.WSSE}}}Password")
    assert password.get("Type") == ns.PASSWORD_TEXT


def test_envelope_body_fields():
    root = parse(render())

    body = root.find(f"{{{ns.SOAP11_ENV}}}Body")
    request = body[0]
    assert (
        request.tag == f"{{{ns.PEDIMENTO_COMPLETO}}}consultarPedimentoCompletoPeticion"
    )
    peticion = request.find(f"{{{ns.PEDIMENTO_COMPLETO}}}peticion")
    values = [(etree.QName(child).namespace, child.text) for child in peticion]
    assert values == [
        (ns.COMUNES, "070"),
        (ns.COMUNES, "3420"),
        (ns.COMUNES, "5006792"),
    ]
    assert [etree.QName(child).localname for child in peticion] == [
        "aduana",
        "patente",
        "pedimento",
    ]


def test_envelope_rejects_control_character_in_key():
    with pytest.raises(InvalidServiceData) as caught:
        render(password="bad\x00key")

    assert "web-service key" in str(caught.value)
    assert "bad" not in str(caught.value)


def test_envelope_rejects_control_character_in_rfc():
    with pytest.raises(InvalidServiceData) as caught:
        render(username="AAA\x01010101AAA")

    assert "RFC" in str(caught.value)
