"""Simulated VUCEM ConsultarPedimentoCompleto SOAP service.

It checks the WS-Security UsernameToken against its own credential store,
looks the pedimento up by aduana, patente and number, and returns what
production VUCEM returns: a success reply, a ``tieneError`` business error or
a SOAP fault. Fault knobs and per-pedimento scripts inject the transport failures
seen in the field (5xx HTML pages, dropped connections, hangs, 429) and
malformed replies.
"""

from __future__ import annotations

import hmac
import logging
import random
import threading
from collections import Counter, deque
from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import etree

from . import replies
from .config import SCRIPTED_OUTCOMES, SandboxConfig
from .data import VucemRecord
from .httpserver import SandboxHandler

logger = logging.getLogger(__name__)

SERVICE_PATH = "/ventanilla-ws-pedimentos/ConsultarPedimentoCompletoService"
SOAP_XML = "text/xml;charset=utf-8"
HTML = "text/html; charset=utf-8"

_ENVELOPE = f"{{{replies.SOAP_ENV}}}Envelope"
_HEADER = f"{{{replies.SOAP_ENV}}}Header"
_BODY = f"{{{replies.SOAP_ENV}}}Body"
_SECURITY = f"{{{replies.WSSE}}}Security"
_USERNAME = f"{{{replies.WSSE}}}UsernameToken/{{{replies.WSSE}}}Username"
_PASSWORD = f"{{{replies.WSSE}}}UsernameToken/{{{replies.WSSE}}}Password"
_REQUEST = f"{{{replies.PC}}}consultarPedimentoCompletoPeticion"
_PETICION = f"{{{replies.PC}}}peticion"

# HTML error pages: outcome name -> (HTTP status, title, message).
_HTML_OUTCOMES = {
    "503": (
        503,
        "503 Service Unavailable",
        "Servicio no disponible. Intente más tarde.",
    ),
    "html502": (
        502,
        "Ventanilla Única en mantenimiento",
        "El portal y los servicios web están en mantenimiento. Intente más tarde.",
    ),
    "html200": (
        200,
        "Ventanilla Única en mantenimiento",
        "Intermitencia en el servicio: servicio no disponible.",
    ),
    "429": (
        429,
        "429 Too Many Requests",
        "Demasiadas solicitudes. Espere antes de volver a intentar.",
    ),
}

# Names of the failures drawn from VucemFaults shares, in draw order.
_RANDOM_FAILURES = (
    ("drop", "drop"),
    ("hang", "hang"),
    ("http_503", "503"),
    ("html_502", "html502"),
    ("rate_limited", "429"),
    ("soap_fault", "fault"),
)


@dataclass
class ConsultaRequest:
    """Fields read from a ConsultarPedimentoCompleto request."""

    # A ready fault envelope when the request could not be parsed.
    fault: str | None = None
    security_headers: int = 0
    username: str | None = None
    password: str | None = None
    aduana: str | None = None
    patente: str | None = None
    pedimento: str | None = None


@dataclass
class Decision:
    """The outcome chosen for one request and how long to wait before it."""

    outcome: str | None
    multipart: bool
    delay: float


def parse_request(body: bytes) -> ConsultaRequest:
    """Parse a SOAP request safely (no DTD, no entities, no network)."""
    if not body.strip():
        return ConsultaRequest(fault=replies.empty_request_fault())
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as error:
        return ConsultaRequest(fault=_client_fault(f"XML reader error: {error}"))
    if root.getroottree().docinfo.doctype:
        return ConsultaRequest(
            fault=_client_fault("XML reader error: DTD is not allowed")
        )
    if root.tag != _ENVELOPE:
        return ConsultaRequest(
            fault=_client_fault(f"Root element {root.tag} is not an Envelope")
        )

    request = ConsultaRequest()
    header = root.find(_HEADER)
    securities = header.findall(_SECURITY) if header is not None else []
    request.security_headers = len(securities)
    if len(securities) == 1:
        request.username = _text(securities[0].find(_USERNAME))
        request.password = _text(securities[0].find(_PASSWORD))

    body_element = root.find(_BODY)
    operation = None
    if body_element is not None:
        operation = next(
            (child for child in body_element if isinstance(child.tag, str)), None
        )
    if operation is None or operation.tag != _REQUEST:
        name = operation.tag if operation is not None else "(empty Body)"
        request.fault = replies.soap_fault(
            "S:Client", f"Cannot find dispatch method for {name}"
        )
        return request

    peticion = operation.find(_PETICION)
    if peticion is not None:
        request.aduana = _text(peticion.find(f"{{{replies.COM}}}aduana"))
        request.patente = _text(peticion.find(f"{{{replies.COM}}}patente"))
        request.pedimento = _text(peticion.find(f"{{{replies.COM}}}pedimento"))
    return request


def _text(element) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _client_fault(detail: str) -> str:
    return replies.soap_fault(
        "S:Client", f"Couldn't create SOAP message due to exception: {detail}"
    )


class SimulatedVucem:
    """In-memory state of the simulated VUCEM: records, keys, scripts and counts."""

    def __init__(self, config: SandboxConfig):
        self._lock = threading.Lock()
        self.faults = config.vucem
        self._rng = random.Random(f"{config.seed}:vucem")
        self._records: dict[tuple[str, str, str], VucemRecord] = {}
        self._passwords: dict[str, str] = {}
        self._scripts: dict[str, deque[str]] = {}
        self.request_count = 0
        self.requests_by_pedimento: Counter = Counter()
        self.outcome_counts: Counter = Counter()

    def add_record(self, record: VucemRecord) -> None:
        """Store a pedimento so that queries for it succeed."""
        with self._lock:
            self._records[record.key] = record

    def record_for(
        self, aduana: str, patente: str, pedimento: str
    ) -> VucemRecord | None:
        with self._lock:
            return self._records.get((aduana, patente, pedimento))

    def set_credentials(self, rfc: str, password: str | None) -> None:
        """Set the key VUCEM accepts for ``rfc``; None removes the RFC."""
        with self._lock:
            if password is None:
                self._passwords.pop(rfc, None)
            else:
                self._passwords[rfc] = password

    def check_credentials(self, rfc: str | None, password: str | None) -> bool:
        if not rfc or password is None:
            return False
        with self._lock:
            expected = self._passwords.get(rfc)
        if expected is None:
            return False
        return hmac.compare_digest(password.encode("utf-8"), expected.encode("utf-8"))

    def script(self, pedimento: str, outcomes: list[str]) -> None:
        """Queue forced outcomes for the next requests about ``pedimento``."""
        unknown = [name for name in outcomes if name not in SCRIPTED_OUTCOMES]
        if unknown:
            valid = ", ".join(sorted(SCRIPTED_OUTCOMES))
            raise ValueError(
                f"Unknown scripted outcomes {unknown}; valid names: {valid}"
            )
        with self._lock:
            self._scripts.setdefault(pedimento, deque()).extend(outcomes)

    def decide(self, pedimento: str | None) -> Decision:
        """Count a request and choose its outcome: scripted, random failure or None.

        Three random numbers are drawn per request whatever the knobs are, so
        one seed gives the same sequence of decisions for any configuration.
        """
        faults = self.faults
        with self._lock:
            self.request_count += 1
            if pedimento:
                self.requests_by_pedimento[pedimento] += 1
            failure_draw = self._rng.random()
            multipart_draw = self._rng.random()
            jitter_draw = self._rng.random()
            queue = self._scripts.get(pedimento) if pedimento else None
            scripted = queue.popleft() if queue else None

        delay = faults.latency + faults.latency_jitter * jitter_draw
        if scripted is not None:
            return Decision(scripted, scripted == "multipart", delay)

        threshold = 0.0
        for share_name, outcome in _RANDOM_FAILURES:
            threshold += getattr(faults, share_name)
            if failure_draw < threshold:
                return Decision(outcome, False, delay)
        return Decision(None, multipart_draw < faults.multipart, delay)

    def count_outcome(self, outcome: str) -> None:
        with self._lock:
            self.outcome_counts[outcome] += 1

    def stats(self) -> dict:
        with self._lock:
            return {
                "requests": self.request_count,
                "requests_by_pedimento": dict(self.requests_by_pedimento),
                "outcomes": dict(self.outcome_counts),
            }


class VucemHandler(SandboxHandler):
    """Request handler of the simulated VUCEM."""

    server_version = "SandboxVUCEM/1.0"

    @property
    def vucem(self) -> SimulatedVucem:
        return self.server.state

    def handle_request(self, body: bytes) -> None:
        if urlsplit(self.path).path != SERVICE_PATH:
            page = replies.html_page("404 Not Found", f"No service at {self.path}.")
            self.send_bytes(404, page.encode(), HTML)
            return
        if self.command != "POST":
            page = replies.html_page(
                "405 Method Not Allowed", "Send the SOAP request by POST."
            )
            self.send_bytes(405, page.encode(), HTML, {"Allow": "POST"})
            return

        request = parse_request(body)
        decision = self.vucem.decide(request.pedimento)
        if self.wait(decision.delay):
            self.drop_connection()
            return

        outcome = decision.outcome
        if outcome == "hang":
            self.vucem.count_outcome("hang")
            if self.wait(self.vucem.faults.hang_seconds):
                self.drop_connection()
                return
            outcome = None
        if outcome is None:
            self._process_request(request, decision.multipart)
        else:
            self._send_outcome(outcome, request)

    # --- normal processing ----------------------------------------------------

    def _process_request(self, request: ConsultaRequest, multipart: bool) -> None:
        """Check the request as VUCEM does and send the matching reply."""
        vucem = self.vucem
        if request.fault is not None:
            self._send_fault("client_fault", request.fault)
            return
        if request.security_headers == 0:
            text = "Security Requirements not met - No Security header in message"
            self._send_fault("invalid_security", replies.invalid_security_fault(text))
            return
        if request.security_headers > 1:
            text = "Found more than one Security header for role null"
            self._send_fault("invalid_security", replies.invalid_security_fault(text))
            return
        if not vucem.check_credentials(request.username, request.password):
            self._send_fault("auth", replies.auth_fault())
            return

        for name in ("aduana", "patente", "pedimento"):
            if getattr(request, name) is None:
                self._send_business(
                    "business", [f"El valor de [{name}] es obligatorio"]
                )
                return
        record = vucem.record_for(request.aduana, request.patente, request.pedimento)
        # A pedimento of another importer gets the same not-found message,
        # because VUCEM shows each RFC only its own pedimentos.
        if record is None or record.rfc != request.username:
            self._send_business("business", [replies.NOT_FOUND_MESSAGE])
            return
        self._send_success(record, multipart)

    def _send_success(self, record: VucemRecord, multipart: bool) -> None:
        xml = replies.success_reply(record).encode("utf-8")
        if multipart:
            self.vucem.count_outcome("multipart")
            content_type, body = replies.multipart_reply(xml)
            self.send_bytes(200, body, content_type)
        else:
            self.vucem.count_outcome("ok")
            self.send_bytes(200, xml, SOAP_XML)

    def _send_business(self, outcome: str, messages: list[str]) -> None:
        self.vucem.count_outcome(outcome)
        body = replies.business_error_reply(messages).encode("utf-8")
        self.send_bytes(200, body, SOAP_XML)

    def _send_fault(self, outcome: str, envelope: str) -> None:
        self.vucem.count_outcome(outcome)
        self.send_bytes(500, envelope.encode("utf-8"), SOAP_XML)

    def _send_html(
        self, outcome: str, status: int, title: str, message: str, headers=None
    ):
        self.vucem.count_outcome(outcome)
        page = replies.html_page(title, message).encode("utf-8")
        self.send_bytes(status, page, HTML, headers)

    # --- forced outcomes -------------------------------------------------------

    def _record_or_stand_in(self, request: ConsultaRequest) -> VucemRecord:
        """Return the stored record, or an invented one for unknown pedimentos."""
        aduana = request.aduana or "160"
        patente = request.patente or "3420"
        pedimento = request.pedimento or "5000000"
        record = self.vucem.record_for(aduana, patente, pedimento)
        if record is not None:
            return record
        return VucemRecord(
            aduana=aduana,
            patente=patente,
            pedimento=pedimento,
            rfc=request.username or "XAXX010101000",
            importer_name="IMPORTADORA DE PRUEBA, S.A. DE C.V.",
            detail_seed=f"stand-in:{pedimento}",
            padded=False,
        )

    def _send_outcome(self, outcome: str, request: ConsultaRequest) -> None:
        """Send a forced or randomly drawn outcome, skipping the request checks.

        "ok" and the malformed-success outcomes return a success reply even
        for an unknown pedimento or a wrong key, with an invented record.
        """
        if outcome in _HTML_OUTCOMES:
            status, title, message = _HTML_OUTCOMES[outcome]
            headers = None
            if outcome == "429":
                headers = {"Retry-After": str(self.vucem.faults.retry_after_seconds)}
            self._send_html(outcome, status, title, message, headers)
        elif outcome == "drop":
            self.vucem.count_outcome("drop")
            self.drop_connection()
        elif outcome == "empty":
            self.vucem.count_outcome("empty")
            self.send_bytes(200, b"", SOAP_XML)
        elif outcome == "fault":
            self._send_fault("fault", replies.server_fault())
        elif outcome == "auth":
            self._send_fault("auth", replies.auth_fault())
        elif outcome == "business":
            self._send_business("business", [replies.NOT_FOUND_MESSAGE])
        elif outcome == "business2":
            messages = [replies.NOT_FOUND_MESSAGE, replies.SECOND_MESSAGE]
            self._send_business("business2", messages)
        elif outcome in ("ok", "multipart"):
            record = self._record_or_stand_in(request)
            self._send_success(record, multipart=outcome == "multipart")
        else:
            self._send_malformed(outcome, self._record_or_stand_in(request))

    def _send_malformed(self, outcome: str, record: VucemRecord) -> None:
        self.vucem.count_outcome(outcome)
        if outcome == "multipart_noroot":
            content_type, body = replies.multipart_reply(b"", with_root=False)
            self.send_bytes(200, body, content_type)
        elif outcome == "doctype":
            self.send_bytes(
                200, replies.doctype_reply(record).encode("utf-8"), SOAP_XML
            )
        elif outcome == "billion":
            self.send_bytes(
                200, replies.billion_laughs_reply(record).encode("utf-8"), SOAP_XML
            )
        elif outcome == "truncated":
            xml = replies.success_reply(record).encode("utf-8")
            self.send_bytes(200, xml[: len(xml) // 2], SOAP_XML)
        elif outcome == "latin1":
            self.send_bytes(
                200, replies.latin1_reply(record), "text/xml;charset=ISO-8859-1"
            )
        elif outcome == "mojibake":
            self.send_bytes(200, replies.mojibake_reply(record), SOAP_XML)
        elif outcome == "huge":
            self._send_huge(record)
        else:
            raise ValueError(f"Unknown outcome {outcome!r}")

    def _send_huge(self, record: VucemRecord) -> None:
        """Stream a success reply of at least ``huge_bytes`` without building it."""
        head, chunk, count, tail = replies.huge_reply_parts(
            record, self.vucem.faults.huge_bytes
        )
        self.response_started = True
        self.send_response(200)
        self.send_header("Content-Type", SOAP_XML)
        self.send_header(
            "Content-Length", str(len(head) + len(chunk) * count + len(tail))
        )
        self.end_headers()
        self.wfile.write(head)
        for _ in range(count):
            if self.server.stop_event.is_set():
                self.close_connection = True
                return
            self.wfile.write(chunk)
        self.wfile.write(tail)
