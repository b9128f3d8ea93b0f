"""Tests of the simulated VUCEM over loopback HTTP."""

from __future__ import annotations

import re

import pytest
import requests
from lxml import etree
from requests_toolbelt.multipart.decoder import MultipartDecoder

from pedimentos.sandbox import Sandbox, SandboxConfig, VucemFaults

from .conftest import VUCEM_PATH, Client, soap_request, valid_query

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
COM = "http://www.ventanillaunica.gob.mx/pedimentos/ws/oxml/comunes"
PC = "http://www.ventanillaunica.gob.mx/pedimentos/ws/oxml/consultarpedimentocompleto"
RESP = "http://www.ventanillaunica.gob.mx/common/ws/oxml/respuesta"
WSSE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
)
WSU = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
)
SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def parse(content: bytes) -> etree._Element:
    return etree.fromstring(content, SAFE)


def reply_root(content: bytes) -> etree._Element:
    """Return the consultarPedimentoCompletoRespuesta element of a reply."""
    return parse(content).find(
        f"{{{SOAP_ENV}}}Body/{{{PC}}}consultarPedimentoCompletoRespuesta"
    )


def fault_of(content: bytes) -> tuple[str, str]:
    fault = parse(content).find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    return fault.findtext("faultcode"), fault.findtext("faultstring")


def messages_of(content: bytes) -> list[str]:
    root = reply_root(content)
    return [element.text for element in root.iter(f"{{{RESP}}}mensaje")]


@pytest.fixture
def query(sandbox):
    return valid_query(sandbox)


@pytest.fixture
def body(query):
    return soap_request(**query)


# --- normal processing ---------------------------------------------------------


def test_success_reply(client, body, query):
    response = client.vucem(body)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml;charset=utf-8"
    root = reply_root(response.content)
    assert root.findtext(f"{{{RESP}}}tieneError") == "false"
    assert re.fullmatch(r"\d{10}", root.findtext(f"{{{PC}}}numeroOperacion"))
    pedimento = root.find(f"{{{PC}}}pedimento")
    assert pedimento.findtext(f"{{{PC}}}pedimento") == query["pedimento"]
    importer = pedimento.find(f"{{{PC}}}importadorExportador")
    assert importer.findtext(f"{{{PC}}}rfc") == query["username"]
    assert importer.find(f"{{{PC}}}aaduanaDespacho") is not None
    encabezado = pedimento.find(f"{{{PC}}}encabezado")
    assert encabezado.find(f"{{{PC}}}medioTrasnporteEntrada") is not None
    assert 2_000 < len(response.content) < 20_000


def test_success_namespace_map(client, body):
    root = reply_root(client.vucem(body).content)
    assert root.prefix == "ns2"
    assert root.nsmap[None] == COM
    assert root.nsmap["ns2"] == PC
    assert root.nsmap["ns3"] == RESP
    assert {f"ns{index}" for index in range(4, 10)} <= set(root.nsmap)


def test_success_header_timestamp(client, body):
    envelope = parse(client.vucem(body).content)
    assert envelope.prefix == "S"
    timestamp = envelope.find(
        f"{{{SOAP_ENV}}}Header/{{{WSSE}}}Security/{{{WSU}}}Timestamp"
    )
    created = timestamp.findtext(f"{{{WSU}}}Created")
    expires = timestamp.findtext(f"{{{WSU}}}Expires")
    assert created.endswith("Z")
    assert expires.endswith("Z")
    assert expires > created


def test_success_partidas_and_identificadores(client, body):
    pedimento = reply_root(client.vucem(body).content).find(f"{{{PC}}}pedimento")
    numbers = [int(element.text) for element in pedimento.findall(f"{{{PC}}}partidas")]
    assert sorted(numbers) == list(range(1, len(numbers) + 1))
    wrapper = pedimento.find(f"{{{PC}}}identificadores")
    items = wrapper.findall(f"{{{PC}}}identificadores")
    folios = [
        item.findtext(f"{{{COM}}}complemento1")
        for item in items
        if item.findtext(f"{{{COM}}}claveIdentificador/{{{COM}}}clave") == "ED"
    ]
    assert folios
    assert all(len(folio) == 13 for folio in folios)


def test_success_dates_format(client, body):
    root = reply_root(client.vucem(body).content)
    dates = [element.text for element in root.iter(f"{{{PC}}}fecha")]
    assert dates
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}-06:00", date) for date in dates)


def test_success_padding_seen(mix_sandbox):
    padded = [record for record in mix_sandbox.world.vucem_records if record.padded]
    assert padded
    from pedimentos.sandbox import replies

    text = replies.success_reply(padded[0])
    razon = re.search(r"<ns2:razonSocial>([^<]*)</ns2:razonSocial>", text).group(1)
    assert len(razon) == 120


def test_wsdl_suffix_accepted(client, body):
    url = client.sandbox.vucem_url + VUCEM_PATH + "?wsdl"
    response = requests.post(url, data=body, timeout=5)
    assert response.status_code == 200
    assert reply_root(response.content) is not None


def test_auth_fault(client, query):
    response = client.vucem(soap_request(**{**query, "password": "wrong"}))
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "text/xml;charset=utf-8"
    assert b"<env:Envelope" in response.content
    assert b"Header" not in response.content
    assert fault_of(response.content) == (
        "wsse:FailedAuthentication",
        "Failed to assert identity with UsernameToken.",
    )


def test_duplicate_security_fault(client, query):
    response = client.vucem(soap_request(**query, security_headers=2))
    assert response.status_code == 500
    assert fault_of(response.content) == (
        "wsse:InvalidSecurity",
        "Found more than one Security header for role null",
    )


def test_unknown_pedimento_business(client, query):
    response = client.vucem(soap_request(**{**query, "pedimento": "5000001"}))
    assert response.status_code == 200
    root = reply_root(response.content)
    assert root.findtext(f"{{{RESP}}}tieneError") == "true"
    assert messages_of(response.content) == [
        "No hay información para la búsqueda solicitada"
    ]
    assert b"wsu:Timestamp" in response.content


def test_other_rfc_business(client, sandbox, query):
    other = next(imp for imp in sandbox.world.importers if imp.rfc != query["username"])
    request = {**query, "username": other.rfc, "password": other.vucem_password}
    response = client.vucem(soap_request(**request))
    assert messages_of(response.content) == [
        "No hay información para la búsqueda solicitada"
    ]


def test_empty_body_fault(client):
    response = client.vucem(b"")
    assert response.status_code == 500
    code, text = fault_of(response.content)
    assert code == "S:Client"
    assert "Unexpected EOF in prolog" in text


def test_malformed_body_fault(client):
    response = client.vucem(b"<soapenv:Envelope")
    assert response.status_code == 500
    assert fault_of(response.content)[0] == "S:Client"


def test_request_with_doctype_rejected(client, query):
    body = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + soap_request(
        **query
    )
    response = client.vucem(body)
    assert response.status_code == 500
    assert fault_of(response.content)[0] == "S:Client"


def test_wrong_operation_fault(client, query):
    body = soap_request(**query).replace(
        b"consultarPedimentoCompletoPeticion", b"consultarPartidaPeticion"
    )
    response = client.vucem(body)
    assert response.status_code == 500
    assert "Cannot find dispatch method" in fault_of(response.content)[1]


def test_vucem_unknown_path(client):
    response = requests.post(client.sandbox.vucem_url + "/other", data=b"x", timeout=5)
    assert response.status_code == 404


def test_vucem_counts(client, sandbox, body, query):
    client.vucem(body)
    client.vucem(body)
    assert sandbox.vucem.request_count == 2
    assert sandbox.vucem.requests_by_pedimento[query["pedimento"]] == 2
    assert sandbox.vucem.outcome_counts["ok"] == 2


def test_vucem_set_credentials(client, sandbox, query):
    sandbox.vucem.set_credentials(query["username"], "new-key")
    assert client.vucem(soap_request(**query)).status_code == 500
    assert (
        client.vucem(soap_request(**{**query, "password": "new-key"})).status_code
        == 200
    )


# --- scripted outcomes ---------------------------------------------------------


def scripted(client: Client, query: dict, outcome: str, **kwargs) -> requests.Response:
    client.sandbox.vucem.script(query["pedimento"], [outcome])
    return client.vucem(soap_request(**query), **kwargs)


@pytest.mark.parametrize(
    ("outcome", "status", "content_type"),
    [
        ("503", 503, "text/html"),
        ("html502", 502, "text/html"),
        ("html200", 200, "text/html"),
        ("429", 429, "text/html"),
    ],
)
def test_script_html_pages(client, query, outcome, status, content_type):
    response = scripted(client, query, outcome)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith(content_type)
    assert b"<html>" in response.content


def test_script_429_retry_after(client, query):
    response = scripted(client, query, "429")
    assert response.headers["Retry-After"] == "1"


def test_script_empty(client, query):
    response = scripted(client, query, "empty")
    assert response.status_code == 200
    assert response.content == b""


def test_script_drop(client, query):
    with pytest.raises(requests.ConnectionError):
        scripted(client, query, "drop")


def test_script_hang():
    faults = VucemFaults(hang_seconds=0.4)
    config = SandboxConfig(services=3, importers=1, default_mix=False, vucem=faults)
    with Sandbox(config) as sandbox:
        session = Client(sandbox)
        query = valid_query(sandbox)
        with pytest.raises(requests.ReadTimeout):
            scripted(session, query, "hang", timeout=0.2)
        session.close()


def test_script_hang_answers_later():
    faults = VucemFaults(hang_seconds=0.2)
    config = SandboxConfig(services=3, importers=1, default_mix=False, vucem=faults)
    with Sandbox(config) as sandbox:
        session = Client(sandbox)
        response = scripted(session, valid_query(sandbox), "hang", timeout=5)
        session.close()
    assert response.status_code == 200
    assert reply_root(response.content) is not None


def test_script_fault(client, query):
    response = scripted(client, query, "fault")
    assert response.status_code == 500
    code, text = fault_of(response.content)
    assert code == "S:Server"
    assert "Undeclared namespace prefix" in text


def test_script_auth(client, query):
    response = scripted(client, query, "auth")
    assert response.status_code == 500
    assert fault_of(response.content)[0] == "wsse:FailedAuthentication"


def test_script_business(client, query):
    response = scripted(client, query, "business")
    assert messages_of(response.content) == [
        "No hay información para la búsqueda solicitada"
    ]


def test_script_business2(client, query):
    response = scripted(client, query, "business2")
    assert len(messages_of(response.content)) == 2
    root = reply_root(response.content)
    assert len(root.findall(f"{{{RESP}}}error")) == 1


def test_script_ok_unknown_pedimento(client, query):
    response = scripted(client, {**query, "pedimento": "5000002"}, "ok")
    root = reply_root(response.content)
    assert root.findtext(f"{{{RESP}}}tieneError") == "false"


def test_script_multipart(client, query):
    response = scripted(client, query, "multipart")
    content_type = response.headers["Content-Type"]
    assert content_type.startswith("multipart/related;")
    assert 'type="application/xop+xml"' in content_type
    assert 'start-info="text/xml"' in content_type
    start = re.search(r'start="([^"]+)"', content_type).group(1)
    parts = MultipartDecoder(response.content, content_type).parts
    assert len(parts) == 1
    assert parts[0].headers[b"Content-Id"].decode() == start
    assert parts[0].headers[b"Content-Type"].startswith(b"application/xop+xml")
    assert parts[0].headers[b"Content-Transfer-Encoding"] == b"binary"
    assert reply_root(parts[0].content) is not None


def test_script_multipart_noroot(client, query):
    response = scripted(client, query, "multipart_noroot")
    content_type = response.headers["Content-Type"]
    start = re.search(r'start="([^"]+)"', content_type).group(1)
    parts = MultipartDecoder(response.content, content_type).parts
    assert all(part.headers[b"Content-Id"].decode() != start for part in parts)


def test_script_doctype(client, query):
    response = scripted(client, query, "doctype")
    assert b"<!DOCTYPE" in response.content
    assert b"<!ENTITY" in response.content
    assert b"<ns2:razonSocial>&sandbox;</ns2:razonSocial>" in response.content
    root = reply_root(response.content)
    assert b"root:" not in etree.tostring(root)


def test_script_billion(client, query):
    response = scripted(client, query, "billion")
    assert b"<!ENTITY lol9" in response.content
    assert len(response.content) < 50_000
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(response.content, etree.XMLParser(resolve_entities=True))


def test_script_huge():
    faults = VucemFaults(huge_bytes=2_000_000)
    config = SandboxConfig(services=3, importers=1, default_mix=False, vucem=faults)
    with Sandbox(config) as sandbox:
        session = Client(sandbox)
        response = scripted(session, valid_query(sandbox), "huge")
        session.close()
    assert len(response.content) > 2_000_000
    assert int(response.headers["Content-Length"]) == len(response.content)
    root = etree.fromstring(response.content, etree.XMLParser(huge_tree=True))
    assert (
        root.find(f"{{{SOAP_ENV}}}Body/{{{PC}}}consultarPedimentoCompletoRespuesta")
        is not None
    )


def test_script_truncated(client, query):
    response = scripted(client, query, "truncated")
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.content.startswith(b"<?xml")
    with pytest.raises(etree.XMLSyntaxError):
        parse(response.content)


def test_script_latin1(client, query):
    response = scripted(client, query, "latin1")
    assert response.content.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    assert "MERCANCÍA".encode("latin-1") in response.content
    with pytest.raises(UnicodeDecodeError):
        response.content.decode("utf-8")
    assert reply_root(response.content) is not None


def test_script_mojibake(client, query):
    response = scripted(client, query, "mojibake")
    text = response.content.decode("utf-8")
    assert "MERCANCÃ" in text
    assert "MERCANCÍA" not in text


def test_script_queue_order(client, sandbox, query):
    sandbox.vucem.script(query["pedimento"], ["503", "business"])
    body = soap_request(**query)
    first = client.vucem(body)
    second = client.vucem(body)
    third = client.vucem(body)
    assert first.status_code == 503
    assert messages_of(second.content) == [
        "No hay información para la búsqueda solicitada"
    ]
    assert reply_root(third.content).findtext(f"{{{RESP}}}tieneError") == "false"
    assert sandbox.vucem.outcome_counts["ok"] == 1


def test_script_unknown_name(sandbox):
    with pytest.raises(ValueError):
        sandbox.vucem.script("5000000", ["teapot"])


# --- random faults -------------------------------------------------------------


def test_random_faults_follow_shares():
    faults = VucemFaults(http_503=0.5)
    config = SandboxConfig(
        seed=11, services=3, importers=1, default_mix=False, vucem=faults
    )
    with Sandbox(config) as sandbox:
        session = Client(sandbox)
        body = soap_request(**valid_query(sandbox))
        statuses = [session.vucem(body).status_code for _ in range(80)]
        session.close()
    assert 20 < statuses.count(503) < 60
    assert statuses.count(200) == 80 - statuses.count(503)


def test_latency_applied():
    faults = VucemFaults(latency=0.15)
    config = SandboxConfig(services=3, importers=1, default_mix=False, vucem=faults)
    with Sandbox(config) as sandbox:
        session = Client(sandbox)
        response = session.vucem(soap_request(**valid_query(sandbox)))
        session.close()
    assert response.elapsed.total_seconds() >= 0.15
