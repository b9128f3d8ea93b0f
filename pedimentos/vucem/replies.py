"""Interpret VUCEM's reply to ConsultarPedimentoCompleto.

``parse_pedimento_completo_reply`` takes the HTTP status, headers and body
and either returns a ``PedimentoCompletoReply`` or raises one of the VUCEM
exceptions of ``pedimentos.exceptions``:

* ``VucemTransportError`` (transient) when the body is not SOAP at all: empty,
  an HTML page, XML that does not parse (a truncated body) or XML that is not
  a SOAP envelope. Also for HTTP 5xx and 429 without a SOAP fault.
* ``VucemAuthFailed`` for the fault ``wsse:FailedAuthentication`` and
  ``VucemFault`` for any other SOAP 1.1 or 1.2 fault.
* ``VucemBusinessError`` when ``tieneError`` is true.
* ``VucemInvalidReply`` (permanent) for a DTD or entity declaration, a
  multipart body without its root part, or a SOAP reply of the wrong shape.

Elements are matched by namespace URI, never by prefix, because VUCEM's
prefixes changed between 2012 and 2015. Parsing goes through
``zeep.loader.parse_xml`` with DTDs, entities and external references
forbidden, so nothing in a reply is ever expanded or fetched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import quopri
import re
import time
from dataclasses import dataclass, field
from datetime import UTC
from email.message import Message
from email.utils import parsedate_to_datetime

from lxml import etree
from requests.structures import CaseInsensitiveDict
from requests_toolbelt.multipart.decoder import (
    ImproperBodyPartContentException,
    MultipartDecoder,
)
from zeep import exceptions as zeep_exceptions
from zeep.loader import parse_xml
from zeep.settings import Settings

from pedimentos.exceptions import (
    VucemAuthFailed,
    VucemBusinessError,
    VucemFault,
    VucemInvalidReply,
    VucemTransportError,
)

from . import namespaces as ns

PARSER_SETTINGS = Settings(
    forbid_dtd=True,
    forbid_entities=True,
    forbid_external=True,
    strict=True,
    xml_huge_tree=False,
)

RESPONSE_TAG = f"{{{ns.PEDIMENTO_COMPLETO}}}consultarPedimentoCompletoRespuesta"

_UTF8_NAMES = {"utf-8", "utf8"}
_ENCODING_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
# An HTML page, possibly after an XML declaration and comments. Checked on
# the first bytes only.
_HTML_START = re.compile(
    rb"^(\xef\xbb\xbf)?\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html)",
    re.IGNORECASE | re.DOTALL,
)
_HTML_SNIFF_BYTES = 4096
# A MIME body starts with "--" and its boundary, such as "--uuid:5c1a...".
_MIME_START = re.compile(rb"\s*--([\x21-\x7e]{1,70})\r?\n")


@dataclass(frozen=True)
class PedimentoCompletoReply:
    """A successful ConsultarPedimentoCompleto reply and the values read from it."""

    # The SOAP document as received (the root part of a multipart reply).
    xml: bytes = field(repr=False)
    numero_operacion: str | None
    pedimento: str | None
    # One partida number per ``partidas`` element, sorted ascending.
    partidas: list[int]

    @property
    def size(self) -> int:
        """Length of ``xml`` in bytes."""
        return len(self.xml)

    @property
    def sha256(self) -> str:
        """Hex SHA-256 digest of ``xml``."""
        return hashlib.sha256(self.xml).hexdigest()


def parse_pedimento_completo_reply(
    status_code: int, headers, content: bytes
) -> PedimentoCompletoReply:
    """Return the reply in ``content`` or raise the matching VUCEM exception."""
    headers = CaseInsensitiveDict(headers or {})
    retry_after = parse_retry_after(headers.get("Retry-After"))
    content_type = headers.get("Content-Type", "")

    def not_soap(reason: str) -> VucemTransportError:
        return VucemTransportError(
            f"VUCEM replied with {reason} (HTTP {status_code}).",
            status_code=status_code,
            retry_after=retry_after,
        )

    if not content.strip():
        raise not_soap("an empty body")
    xml, charset = _soap_document(content, content_type, status_code)
    if not xml.strip():
        raise not_soap("an empty SOAP part")
    if _looks_like_html(xml):
        raise not_soap("an HTML page instead of SOAP")

    root = _parse(xml, charset, status_code, not_soap)
    body = _soap_body(root)
    if body is None:
        raise not_soap(f"XML that is not a SOAP envelope (root {root.tag})")

    fault = _find_fault(body)
    if fault is not None:
        _raise_fault(fault, status_code)
    if status_code == 429 or status_code >= 500:
        raise not_soap("an error status and no SOAP fault")

    answer = next(body.iterchildren(etree.Element), None)
    if answer is None or answer.tag != RESPONSE_TAG:
        tag = "nothing" if answer is None else answer.tag
        raise VucemInvalidReply(
            f"VUCEM's SOAP body contains {tag} instead of "
            f"consultarPedimentoCompletoRespuesta (HTTP {status_code}).",
            status_code=status_code,
        )
    return _read_answer(answer, xml)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Return the seconds to wait from a ``Retry-After`` header, or None."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        # "-0000" parses as a naive datetime. HTTP dates are always GMT.
        moment = moment.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, moment.timestamp() - current)


def repair_mojibake(text: str) -> str:
    """Return ``text`` with UTF-8 read as Latin-1 ("estÃ¡") turned back into "está"."""
    if "Ã" not in text:
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return text


# --- SOAP document ------------------------------------------------------------


def _soap_document(content: bytes, content_type: str, status_code: int):
    """Return the SOAP document bytes and their declared charset."""
    message = _content_type(content_type)
    boundary = message.get_param("boundary")
    if message.get_content_type() != "multipart/related":
        boundary = _sniff_boundary(content)
        if boundary is None:
            return content, message.get_content_charset()

    if not boundary:
        raise VucemInvalidReply(
            f"VUCEM sent a multipart/related reply without a boundary "
            f"(HTTP {status_code}).",
            status_code=status_code,
        )
    try:
        decoder = MultipartDecoder(content, f'multipart/related; boundary="{boundary}"')
    except (ImproperBodyPartContentException, UnicodeDecodeError) as exc:
        raise VucemInvalidReply(
            f"VUCEM sent a malformed multipart/related reply: {exc} "
            f"(HTTP {status_code}).",
            status_code=status_code,
        ) from exc

    part = _root_part(decoder.parts, message.get_param("start"))
    if part is None:
        start = message.get_param("start") or "the first part"
        raise VucemInvalidReply(
            f"VUCEM's multipart/related reply has no root part {start} "
            f"(HTTP {status_code}).",
            status_code=status_code,
        )
    part_type = _content_type(_header_text(part, b"Content-Type"))
    data = _decode_transfer(
        part.content, _header_text(part, b"Content-Transfer-Encoding")
    )
    return data, part_type.get_content_charset()


def _sniff_boundary(content: bytes) -> str | None:
    """Return the boundary of a MIME body sent without a multipart Content-Type."""
    match = _MIME_START.match(content)
    if match is None:
        return None
    return match.group(1).decode("ascii")


def _root_part(parts, start: str | None):
    """Return the part whose Content-ID is ``start``, or the first part."""
    if not start:
        return parts[0] if parts else None
    start_id = start.strip().strip("<>")
    for part in parts:
        if _header_text(part, b"Content-ID").strip().strip("<>") == start_id:
            return part
    return None


def _header_text(part, name: bytes) -> str:
    value = part.headers.get(name, b"")
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _decode_transfer(data: bytes, transfer_encoding: str) -> bytes:
    encoding = transfer_encoding.strip().lower()
    if encoding == "base64":
        try:
            return base64.b64decode(data)
        except binascii.Error as exc:
            raise VucemInvalidReply(
                f"VUCEM's multipart root part is not valid base64: {exc}."
            ) from exc
    if encoding == "quoted-printable":
        return quopri.decodestring(data)
    return data


def _content_type(value: str) -> Message:
    message = Message()
    message["Content-Type"] = value or "application/octet-stream"
    return message


def _looks_like_html(xml: bytes) -> bool:
    # The body decides, not the Content-Type: a SOAP fault sent as text/html
    # is still a fault, and must not be retried as a transport error.
    return _HTML_START.match(xml[:_HTML_SNIFF_BYTES]) is not None


def _parse(xml: bytes, charset: str | None, status_code: int, not_soap):
    """Parse ``xml`` safely, honouring the HTTP charset when XML declares none."""
    try:
        return parse_xml(_transcode(xml, charset), None, settings=PARSER_SETTINGS)
    except (
        zeep_exceptions.DTDForbidden,
        zeep_exceptions.EntitiesForbidden,
        zeep_exceptions.ExternalReferenceForbidden,
    ) as exc:
        raise VucemInvalidReply(
            f"VUCEM's reply declares a DTD or entities, which are never "
            f"expanded: {type(exc).__name__} (HTTP {status_code}).",
            status_code=status_code,
        ) from exc
    except zeep_exceptions.XMLSyntaxError as exc:
        if _DOCTYPE.search(xml[:_HTML_SNIFF_BYTES]):
            raise VucemInvalidReply(
                f"VUCEM's reply declares a DTD or entities and is not "
                f"well-formed (HTTP {status_code}).",
                status_code=status_code,
            ) from exc
        raise not_soap(
            f"XML that does not parse, probably truncated: {exc.message}"
        ) from exc


def _transcode(xml: bytes, charset: str | None) -> bytes:
    """Return ``xml`` as bytes lxml reads correctly.

    A document with an encoding declaration is left alone: lxml honours it.
    Without one, XML defaults to UTF-8, so a different charset declared by
    HTTP is applied by recoding to UTF-8. Bytes that are not UTF-8 and come
    with no usable charset are read as cp1252 instead of being rejected.
    """
    if _ENCODING_DECLARATION.match(xml):
        return xml
    if charset and charset.lower() not in _UTF8_NAMES:
        try:
            return xml.decode(charset).encode("utf-8")
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        xml.decode("utf-8")
    except UnicodeDecodeError:
        return xml.decode("cp1252", errors="replace").encode("utf-8")
    return xml


def _soap_body(root):
    for env in (ns.SOAP11_ENV, ns.SOAP12_ENV):
        if root.tag == f"{{{env}}}Envelope":
            return root.find(f"{{{env}}}Body")
    return None


def _find_fault(body):
    for env in (ns.SOAP11_ENV, ns.SOAP12_ENV):
        fault = body.find(f"{{{env}}}Fault")
        if fault is not None:
            return fault
    return None


# --- Faults ------------------------------------------------------------------


def _raise_fault(fault, status_code: int):
    if fault.tag == f"{{{ns.SOAP12_ENV}}}Fault":
        codes, fault_string = _soap12_fault(fault)
    else:
        codes, fault_string = _soap11_fault(fault)

    code = "/".join(text for text, _qname in codes) or "(no faultcode)"
    context = {"status_code": status_code}
    if any(qname == (ns.WSSE, "FailedAuthentication") for _text, qname in codes):
        raise VucemAuthFailed(
            f"VUCEM rejected the RFC and web-service key ({code}: "
            f"{fault_string}). Check the VUCEM credentials stored in the "
            f"backend for this RFC.",
            code=code,
            fault_string=fault_string,
            **context,
        )
    raise VucemFault(
        f"VUCEM returned the SOAP fault {code}: {fault_string}",
        code=code,
        fault_string=fault_string,
        **context,
    )


def _soap11_fault(fault):
    """Return [(faultcode text, resolved QName)] and the faultstring."""
    # SOAP 1.1 fault children are unqualified, but some stacks qualify them.
    code_element = _child_by_local_name(fault, "faultcode")
    string_element = _child_by_local_name(fault, "faultstring")
    codes = []
    if code_element is not None:
        codes.append(_qname_value(code_element))
    return codes, _stripped(string_element) or ""


def _soap12_fault(fault):
    """Return [(Value text, resolved QName)] for Code and Subcodes, and the Reason."""
    env = ns.SOAP12_ENV
    codes = []
    level = fault.find(f"{{{env}}}Code")
    while level is not None:
        value = level.find(f"{{{env}}}Value")
        if value is not None:
            codes.append(_qname_value(value))
        level = level.find(f"{{{env}}}Subcode")
    reason = fault.find(f"{{{env}}}Reason/{{{env}}}Text")
    return codes, _stripped(reason) or ""


def _qname_value(element):
    """Return the element's QName text and its (namespace URI, local name).

    The prefix resolves through the element's own in-scope namespaces, the
    way XML Schema reads a QName. An undeclared prefix gives a None URI.
    """
    text = _stripped(element) or ""
    prefix, colon, local = text.rpartition(":")
    uri = element.nsmap.get(prefix if colon else None)
    return text, (uri, local)


def _child_by_local_name(element, local_name: str):
    for child in element.iterchildren(etree.Element):
        if etree.QName(child).localname == local_name:
            return child
    return None


# --- Response element --------------------------------------------------------


def _read_answer(answer, xml: bytes) -> PedimentoCompletoReply:
    flag = _stripped(answer.find(f"{{{ns.RESPUESTA}}}tieneError"))
    if flag is None:
        raise VucemInvalidReply(
            "VUCEM's consultarPedimentoCompletoRespuesta has no tieneError element."
        )
    if flag.lower() in ("true", "1"):
        _raise_business_error(answer)
    if flag.lower() not in ("false", "0"):
        raise VucemInvalidReply(
            f"VUCEM's tieneError is {flag!r}, expected 'true' or 'false'."
        )

    pc = ns.PEDIMENTO_COMPLETO
    pedimento = answer.find(f"{{{pc}}}pedimento")
    partidas = []
    if pedimento is not None:
        partidas = sorted(
            _partida_number(element)
            for element in pedimento.findall(f"{{{pc}}}partidas")
            if _stripped(element)
        )
    return PedimentoCompletoReply(
        xml=xml,
        numero_operacion=_stripped(answer.find(f"{{{pc}}}numeroOperacion")) or None,
        pedimento=_stripped(answer.find(f"{{{pc}}}pedimento/{{{pc}}}pedimento"))
        or None,
        partidas=partidas,
    )


def _raise_business_error(answer):
    resp = ns.RESPUESTA
    messages = []
    # One error element holding several mensaje, or several error elements.
    for error in answer.findall(f"{{{resp}}}error"):
        texts = [_stripped(m) for m in error.findall(f"{{{resp}}}mensaje")]
        if not texts:
            texts = [_stripped(error)]
        messages.extend(repair_mojibake(t) for t in texts if t)
    if not messages:
        messages = ["VUCEM reported an error (tieneError is true) without a message."]
    raise VucemBusinessError("; ".join(messages), messages=messages)


def _partida_number(element) -> int:
    text = _stripped(element)
    try:
        return int(text)
    except ValueError:
        raise VucemInvalidReply(
            f"VUCEM's partidas element contains {text!r}, expected a partida number."
        ) from None


def _stripped(element) -> str | None:
    """Return the element's text without padding, '' when empty, None when absent."""
    if element is None:
        return None
    return (element.text or "").strip()
