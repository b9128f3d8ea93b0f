"""Fixtures for the sandbox tests: started sandboxes and a SOAP request builder."""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest
import requests

from pedimentos.sandbox import Sandbox, SandboxConfig, VucemFaults

SERVICES_URL = "/customs/procesamientopedimentos/"
VUCEM_PATH = "/ventanilla-ws-pedimentos/ConsultarPedimentoCompletoService"

SECURITY_HEADER = """
    <wsse:Security soapenv:mustUnderstand="1"
        xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
      <wsse:UsernameToken>
        <wsse:Username>{username}</wsse:Username>
        <wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">{password}</wsse:Password>
      </wsse:UsernameToken>
    </wsse:Security>"""

ENVELOPE = """<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:con="http://www.ventanillaunica.gob.mx/pedimentos/ws/oxml/consultarpedimentocompleto"
    xmlns:com="http://www.ventanillaunica.gob.mx/pedimentos/ws/oxml/comunes">
  <soapenv:Header>{security}
  </soapenv:Header>
  <soapenv:Body>
    <con:consultarPedimentoCompletoPeticion>
      <con:peticion>
        <com:aduana>{aduana}</com:aduana>
        <com:patente>{patente}</com:patente>
        <com:pedimento>{pedimento}</com:pedimento>
      </con:peticion>
    </con:consultarPedimentoCompletoPeticion>
  </soapenv:Body>
</soapenv:Envelope>"""


def soap_request(
    username: str,
    password: str,
    aduana: str,
    patente: str,
    pedimento: str,
    *,
    security_headers: int = 1,
) -> bytes:
    """Build a ConsultarPedimentoCompleto request like the project's client sends."""
    security = SECURITY_HEADER.format(
        username=escape(username), password=escape(password)
    )
    return ENVELOPE.format(
        security=security * security_headers,
        aduana=aduana,
        patente=patente,
        pedimento=pedimento,
    ).encode("utf-8")


def valid_query(sandbox: Sandbox) -> dict:
    """Return the request fields of a service VUCEM answers with success."""
    importers = {importer.rfc: importer for importer in sandbox.world.importers}
    for service_id in sorted(sandbox.backend.services):
        pedimento = sandbox.backend.services[service_id]["pedimento"]
        importer = importers[pedimento["contribuyente"]]
        if importer.case:
            continue
        record = sandbox.vucem.record_for(
            pedimento["aduana"], pedimento["patente"], pedimento["pedimento"]
        )
        if record is not None:
            return {
                "username": importer.rfc,
                "password": importer.vucem_password,
                "aduana": pedimento["aduana"],
                "patente": pedimento["patente"],
                "pedimento": pedimento["pedimento"],
            }
    raise AssertionError("The sandbox has no service VUCEM answers with success")


class Client:
    """A requests session bound to a started sandbox."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Token {sandbox.api_token}"
        self.soap = requests.Session()

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.api.get(self.sandbox.api_url + path, timeout=10, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.api.put(self.sandbox.api_url + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.api.post(self.sandbox.api_url + path, timeout=10, **kwargs)

    def vucem(self, body: bytes, *, timeout: float = 10, **kwargs) -> requests.Response:
        return self.soap.post(
            self.sandbox.vucem_url + VUCEM_PATH,
            data=body,
            headers={"Content-Type": "text/xml; charset=utf-8"},
            timeout=timeout,
            **kwargs,
        )

    def close(self) -> None:
        self.api.close()
        self.soap.close()


@pytest.fixture
def sandbox():
    """A sandbox with valid data only and no injected faults."""
    config = SandboxConfig(seed=7, services=30, importers=4, default_mix=False)
    with Sandbox(config) as started:
        yield started


@pytest.fixture
def mix_sandbox():
    """A sandbox with the demo mix of data cases but no random VUCEM faults."""
    config = SandboxConfig(seed=1234, services=45, importers=6, vucem=VucemFaults())
    with Sandbox(config) as started:
        yield started


@pytest.fixture
def client(sandbox):
    session = Client(sandbox)
    yield session
    session.close()
