"""Reply bodies of the simulated VUCEM ConsultarPedimentoCompleto service.

Success replies follow the shape of production replies from 2015 to 2019.
They use the ``S:`` envelope prefix and a ``wsse:Security/wsu:Timestamp``
reply header that expires 60 seconds after it was created. The body declares
COM as default namespace and PC as ``ns2``, and keeps the element order and
the typos of real replies (``medioTrasnporte*``, ``aaduanaDespacho``). Values
are invented but use the real formats. Faults use the texts VUCEM sends.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from .data import ADUANAS, VucemRecord

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
)
WSU = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
)
VU = "http://www.ventanillaunica.gob.mx"
COM = f"{VU}/pedimentos/ws/oxml/comunes"
PC = f"{VU}/pedimentos/ws/oxml/consultarpedimentocompleto"
RESP = f"{VU}/common/ws/oxml/respuesta"
# NOTE: only the last path segment of these six namespaces is known from
# captured replies. The "/common/ws/oxml/" part is a guess. Replies declare
# them but never use them in the body.
EXTRA_NAMESPACES = (
    "resolucion",
    "respuestatra",
    "dictamen",
    "observacion",
    "requisito",
    "opinion",
)

ROOT_NAMESPACES = " ".join(
    [f'xmlns="{COM}"', f'xmlns:ns2="{PC}"', f'xmlns:ns3="{RESP}"']
    + [
        f'xmlns:ns{index}="{VU}/common/ws/oxml/{name}"'
        for index, name in enumerate(EXTRA_NAMESPACES, start=4)
    ]
)

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
NOT_FOUND_MESSAGE = "No hay información para la búsqueda solicitada"
SECOND_MESSAGE = "El número de operacion no corresponde con los datos de petición."
OBSERVACIONES_TEXT = (
    "MERCANCÍA DESCRITA EN LAS FACTURAS ANEXAS. EL IMPORTADOR DECLARA BAJO "
    "PROTESTA DE DECIR VERDAD QUE LA INFORMACIÓN ES CORRECTA Y QUE CUENTA CON "
    "LOS DOCUMENTOS QUE ACREDITAN EL ORIGEN DE LAS MERCANCÍAS."
)

_TRANSPORT = {"160": "1", "430": "1", "510": "1", "470": "4"}
_TRANSPORT_NAMES = {"1": "MARITIMO", "4": "AEREO", "7": "CARRETERO"}
_INCOTERMS = (
    ("FOB", "LIBRE A BORDO"),
    ("CIF", "COSTO, SEGURO Y FLETE"),
    ("DAP", "ENTREGADA EN LUGAR"),
)
_SUPPLIERS = (
    ("ACME INDUSTRIAL SUPPLY INC", "7500 COMMERCE BLVD", "HOUSTON", "77001"),
    ("PACIFIC RIM COMPONENTS LTD", "88 HARBOUR ROAD", "LONG BEACH", "90802"),
    ("NORTHERN MACHINE WORKS LLC", "1200 INDUSTRIAL PKWY", "EL PASO", "79901"),
)
_STREETS = ("AV. INSURGENTES SUR", "CALZADA DE TLALPAN", "BLVD. MANUEL ÁVILA CAMACHO")
_CITIES = ("BENITO JUÁREZ", "GUADALAJARA", "MONTERREY", "QUERÉTARO")
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def utc_timestamps(now: datetime | None = None) -> tuple[str, str]:
    """Return the Created and Expires (+60 s) texts of a reply header."""
    created = now or datetime.now(UTC)
    expires = created + timedelta(seconds=60)
    return _utc_text(created), _utc_text(expires)


def _utc_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _envelope(body: str, *, declaration: str = XML_DECLARATION) -> str:
    created, expires = utc_timestamps()
    return (
        f'{declaration}<S:Envelope xmlns:S="{SOAP_ENV}"><S:Header>'
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}" S:mustUnderstand="1">'
        f'<wsu:Timestamp wsu:Id="_1"><wsu:Created>{created}</wsu:Created>'
        f"<wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp></wsse:Security>"
        f"</S:Header><S:Body>{body}</S:Body></S:Envelope>"
    )


class _Writer:
    """Append XML text; every text value is escaped."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def leaf(self, tag: str, text: object) -> None:
        self.parts.append(f"<{tag}>{escape(str(text))}</{tag}>")

    def raw_leaf(self, tag: str, markup: str) -> None:
        self.parts.append(f"<{tag}>{markup}</{tag}>")

    def empty(self, tag: str) -> None:
        self.parts.append(f"<{tag}/>")

    def open(self, tag: str) -> None:
        self.parts.append(f"<{tag}>")

    def close(self, tag: str) -> None:
        self.parts.append(f"</{tag}>")

    def code(
        self, tag: str, clave: object, descripcion: str, prefix: str = "ns2:"
    ) -> None:
        """Write ``tag/{clave, descripcion}`` with children in ``prefix``."""
        self.open(tag)
        self.leaf(f"{prefix}clave", clave)
        self.leaf(f"{prefix}descripcion", descripcion)
        self.close(tag)

    def text(self) -> str:
        return "".join(self.parts)


def _pad(value: str, width: int, padded: bool) -> str:
    return value.ljust(width) if padded else value


def _date(rng: random.Random) -> str:
    day = datetime(2025, 1, 2) + timedelta(days=rng.randrange(0, 300))
    return day.strftime("%Y-%m-%d") + "-06:00"


def _alnum(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_ALNUM) for _ in range(length))


def _money(value: float) -> str:
    return f"{value:.2f}"


def _curp(rng: random.Random) -> str:
    letters = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4))
    birth = (
        f"{rng.randrange(60, 99)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    )
    consonants = "".join(rng.choice("BCDFGHJKLMNPQRSTVWXYZ") for _ in range(3))
    return (
        letters
        + birth
        + rng.choice("HM")
        + rng.choice(("DF", "JC", "NL", "BC"))
        + (consonants + rng.choice(_ALNUM) + str(rng.randrange(10)))
    )


def _observaciones(text: str) -> str:
    """Split ``text`` into 120-character padded segments, as 2015 replies do."""
    segments = [text[start : start + 120] for start in range(0, len(text), 120)]
    return "".join(segment.ljust(120) for segment in segments)


def completo_body(
    record: VucemRecord,
    *,
    observaciones: str | None = None,
    razon_social_markup: str | None = None,
) -> str:
    """Return the ``consultarPedimentoCompletoRespuesta`` element of a success.

    ``observaciones`` replaces the seeded observaciones text. A
    ``razon_social_markup`` is written into razonSocial without escaping, for
    the replies that carry an entity reference there.
    """
    rng = random.Random(record.detail_seed)
    padded = record.padded
    out = _Writer()
    out.parts.append(f"<ns2:consultarPedimentoCompletoRespuesta {ROOT_NAMESPACES}>")
    out.leaf("ns3:tieneError", "false")
    out.leaf("ns2:numeroOperacion", str(rng.randrange(10**9, 10**10)))
    out.open("ns2:pedimento")
    out.leaf("ns2:pedimento", record.pedimento)

    exportacion = rng.random() < 0.2
    aduana_clave = str(int(record.aduana)) if record.aduana.isdigit() else record.aduana
    aduana_name = ADUANAS.get(record.aduana, "ADUANA DE PRUEBA.")
    transport = _TRANSPORT.get(record.aduana, "7")
    tipo_cambio = rng.uniform(16.5, 20.5)
    valor_usd = rng.uniform(800, 250_000)
    valor_mxn = valor_usd * tipo_cambio

    out.open("ns2:encabezado")
    out.code(
        "ns2:tipoOperacion",
        2 if exportacion else 1,
        "Exportacion" if exportacion else "Importacion",
    )
    out.code("ns2:claveDocumento", "A1", "IMPORTACION O EXPORTACION DEFINITIVA")
    out.code("ns2:destino", 9, "INTERIOR DEL PAIS", prefix="")
    out.code("ns2:aduanaEntradaSalida", aduana_clave, aduana_name)
    out.leaf("ns2:tipoCambio", f"{tipo_cambio:.5f}")
    out.leaf("ns2:pesoBruto", f"{rng.uniform(50, 25_000):.3f}")
    out.code("ns2:medioTrasnporteSalida", 7, "CARRETERO")
    out.code("ns2:medioTrasnporteArribo", transport, _TRANSPORT_NAMES[transport])
    out.code("ns2:medioTrasnporteEntrada", transport, _TRANSPORT_NAMES[transport])
    out.leaf("ns2:curpApoderadomandatario", _curp(rng))
    out.leaf(
        "ns2:rfcAgenteAduanalSocFactura", "AAD" + f"{rng.randrange(10**6):06d}" + "AB1"
    )
    if not exportacion:
        out.leaf("ns2:valorDolares", _money(valor_usd))
    out.leaf("ns2:valorAduanalTotal", str(round(valor_mxn * 1.02)))
    out.leaf("ns2:valorComercialTotal", str(round(valor_mxn)))
    out.close("ns2:encabezado")
    out.empty("ns2:rectificacion")

    _importador(out, rng, record, aduana_clave, aduana_name, razon_social_markup)
    _tasas(out, rng, valor_mxn)
    suppliers = _proveedores(out, rng, valor_usd)
    _facturas(out, rng, suppliers, valor_usd)
    _transportes(out, rng, transport)
    _identificadores(out, rng)

    if observaciones is None and (padded or rng.random() < 0.3):
        observaciones = OBSERVACIONES_TEXT
    if observaciones is not None:
        out.leaf("ns2:observaciones", _observaciones(observaciones))

    partidas = list(range(1, rng.randrange(1, 13) + 1))
    rng.shuffle(partidas)
    for number in partidas:
        out.leaf("ns2:partidas", number)

    if transport == "1":
        for _ in range(rng.randrange(1, 4)):
            out.open("ns2:contenedores")
            letters = "".join(
                rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4)
            )
            out.leaf("ns2:identificador", letters + f"{rng.randrange(10**7):07d}")
            out.code("ns2:tipoContenedor", 5, "CONTENEDOR ESTANDAR 40 (STANDARD).")
            out.close("ns2:contenedores")

    out.close("ns2:pedimento")
    out.close("ns2:consultarPedimentoCompletoRespuesta")
    return out.text()


def _importador(
    out: _Writer,
    rng: random.Random,
    record: VucemRecord,
    aduana_clave: str,
    aduana_name: str,
    razon_social_markup: str | None,
) -> None:
    padded = record.padded
    out.open("ns2:importadorExportador")
    out.leaf("ns2:rfc", record.rfc)
    if razon_social_markup is None:
        out.leaf("ns2:razonSocial", _pad(record.importer_name, 120, padded))
    else:
        out.raw_leaf("ns2:razonSocial", razon_social_markup)

    out.open("ns2:domicilio")
    out.leaf("ns2:calle", _pad(rng.choice(_STREETS), 80, padded))
    out.leaf("ns2:numeroExterior", _pad(str(rng.randrange(1, 3000)), 10, padded))
    if rng.random() < 0.5:
        out.leaf("ns2:numeroInterior", _pad(f"PISO {rng.randrange(1, 20)}", 10, padded))
    out.leaf("ns2:ciudadMunicipio", _pad(rng.choice(_CITIES), 80, padded))
    out.leaf("ns2:codigoPostal", _pad(f"{rng.randrange(1000, 99999):05d}", 10, padded))
    out.close("ns2:domicilio")

    out.leaf("ns2:seguros", "0")
    out.leaf("ns2:fletes", str(rng.randrange(0, 40_000)))
    out.leaf("ns2:embalajes", "0")
    out.leaf("ns2:incrementables", "0")
    out.code("ns2:aaduanaDespacho", aduana_clave, aduana_name)
    out.leaf("ns2:bultos", str(rng.randrange(1, 400)))

    for clave, descripcion in (
        (1, "FECHA DE ENTRADA A TERRITORIO NAL."),
        (2, "FECHA DE PAGO DE LAS CONTRIBUCIONES"),
    ):
        out.open("ns2:fechas")
        out.leaf("ns2:fecha", _date(rng))
        out.code("ns2:tipo", clave, descripcion)
        out.close("ns2:fechas")

    efectivo = rng.randrange(300, 90_000)
    out.leaf("ns2:efectivo", str(efectivo))
    out.leaf("ns2:otros", "0")
    out.leaf("ns2:total", str(efectivo))
    out.code("ns2:pais", "MEX", "ESTADOS UNIDOS MEXICANOS", prefix="")
    out.close("ns2:importadorExportador")


def _tasas(out: _Writer, rng: random.Random, valor_mxn: float) -> None:
    rows = (
        (1, "DTA", 7, "AL MILLAR DTA", "8.0000000000", round(valor_mxn * 0.008)),
        (15, "PREVALIDAAAA", 2, "ESPECIFICO", "290.0000000000", 290),
        (21, "CONTRAPRESTA", 2, "ESPECIFICO", "20.0000000000", 20),
    )
    for clave, name, tipo, tipo_name, tasa, importe in rows:
        out.open("ns2:tasas")
        out.code("ns2:contribucion", clave, name)
        out.code("ns2:tipoTasa", tipo, tipo_name, prefix="")
        out.leaf("ns2:tasaAplicable", tasa)
        out.code("ns2:formaPago", 0, "EFECTIVO", prefix="")
        out.leaf("ns2:importe", str(importe))
        out.close("ns2:tasas")


def _proveedores(
    out: _Writer, rng: random.Random, valor_usd: float
) -> list[tuple[str, str]]:
    chosen = rng.sample(_SUPPLIERS, k=rng.randrange(1, 3))
    suppliers = []
    for name, street, city, postal_code in chosen:
        tax_id = f"{rng.randrange(10, 99)}-{rng.randrange(10**6, 10**7)}"
        suppliers.append((tax_id, name))
        out.open("ns2:proveedoresCompradores")
        out.leaf("ns2:identificadorFiscal", tax_id)
        out.leaf("ns2:proveedorComprador", name)
        out.open("ns2:domicilio")
        out.leaf("ns2:calle", street.ljust(80))
        out.leaf("ns2:numeroExterior", str(rng.randrange(1, 9999)))
        out.leaf("ns2:ciudadMunicipio", city.ljust(80))
        out.leaf("ns2:codigoPostal", postal_code)
        out.close("ns2:domicilio")
        out.code("ns2:moneda", "USD", "DOLAR AMERICANO")
        share = _money(valor_usd / len(chosen))
        out.leaf("ns2:valorMonedaExtranjera", share)
        out.leaf("ns2:valorDolares", share)
        out.code("ns2:pais", "USA", "ESTADOS UNIDOS DE AMERICA", prefix="")
        out.close("ns2:proveedoresCompradores")
    return suppliers


def _facturas(
    out: _Writer, rng: random.Random, suppliers: list[tuple[str, str]], valor_usd: float
) -> None:
    count = rng.randrange(1, 4)
    for _ in range(count):
        tax_id, name = rng.choice(suppliers)
        incoterm, incoterm_name = rng.choice(_INCOTERMS)
        share = _money(valor_usd / count)
        out.open("ns2:facturas")
        out.leaf("ns2:fecha", _date(rng))
        out.leaf("ns2:numero", "COVE" + "25" + _alnum(rng, 7))
        out.code("ns2:terminoFacturacion", incoterm, incoterm_name)
        out.code("ns2:moneda", "USD", "DOLAR AMERICANO")
        out.leaf("ns2:valorDolares", share)
        out.leaf("ns2:valorMonedaExtranjera", share)
        out.leaf("ns2:identificadorFiscalProveedorComprador", tax_id)
        out.leaf("ns2:proveedorComprador", name)
        out.close("ns2:facturas")


def _transportes(out: _Writer, rng: random.Random, transport: str) -> None:
    out.open("ns2:transportes")
    if transport == "1":
        out.leaf(
            "ns2:identificador",
            rng.choice(("MSC ANNA", "MAERSK ESSEX", "CMA CGM RIGOLETTO")),
        )
        out.code("ns2:paisTransporte", "PAN", "PANAMA", prefix="")
        out.leaf("ns2:nombre", "NAVIERA DEL PACIFICO SA")
    else:
        out.leaf("ns2:identificador", _alnum(rng, 7))
        out.code("ns2:paisTransporte", "MEX", "ESTADOS UNIDOS MEXICANOS", prefix="")
        out.leaf("ns2:nombre", "TRANSPORTES UNIDOS DEL NORTE SA DE CV")
    out.close("ns2:transportes")
    out.open("ns2:guias")
    out.leaf("ns2:guiaManifiesto", _alnum(rng, 12))
    out.leaf("ns2:tipoGuia", "M")
    out.close("ns2:guias")


def _identificador(
    out: _Writer, clave: str, descripcion: str, *complementos: str
) -> None:
    out.open("ns2:identificadores")
    out.code("claveIdentificador", clave, descripcion, prefix="")
    for index, value in enumerate(complementos, start=1):
        out.leaf(f"complemento{index}", value)
    out.close("ns2:identificadores")


def _identificadores(out: _Writer, rng: random.Random) -> bool:
    """Write the identificadores wrapper; return whether it has remesas (RC)."""
    remesas = rng.random() < 0.25
    out.open("ns2:identificadores")
    for _ in range(rng.randrange(1, 4)):
        folio = f"{rng.choice((438, 171, 100)):04d}" + "25" + _alnum(rng, 7)
        _identificador(out, "ED", "E_DOCUMENT DOCUMENTO DIGITALIZADO", folio)
    if rng.random() < 0.5:
        _identificador(out, "IC", "IMPORTADOR CERTIFICADO", "L")
    if remesas:
        _identificador(out, "PC", "PEDIMENTO CONSOLIDADO")
        _identificador(out, "RC", "REMESAS DE CONSOLIDADO", f"1-{rng.randrange(2, 30)}")
    out.close("ns2:identificadores")
    return remesas


def success_reply(record: VucemRecord, **options) -> str:
    """Return a full success envelope; ``options`` go to ``completo_body``."""
    return _envelope(completo_body(record, **options))


def business_error_reply(messages: list[str]) -> str:
    """Return a ``tieneError=true`` envelope with one ``mensaje`` per message."""
    out = _Writer()
    out.parts.append(f"<ns2:consultarPedimentoCompletoRespuesta {ROOT_NAMESPACES}>")
    out.leaf("ns3:tieneError", "true")
    out.open("ns3:error")
    for message in messages:
        out.leaf("ns3:mensaje", message)
    out.close("ns3:error")
    out.close("ns2:consultarPedimentoCompletoRespuesta")
    return _envelope(out.text())


def _security_fault(code: str, text: str) -> str:
    # Security faults use the "env" prefix, no Header and a 3-space indent.
    return (
        f"{XML_DECLARATION}\n"
        f'<env:Envelope xmlns:env="{SOAP_ENV}">\n'
        "   <env:Body>\n"
        f'      <env:Fault xmlns:wsse="{WSSE}">\n'
        f"         <faultcode>{code}</faultcode>\n"
        f"         <faultstring>{escape(text)}</faultstring>\n"
        "      </env:Fault>\n"
        "   </env:Body>\n"
        "</env:Envelope>\n"
    )


def auth_fault() -> str:
    """Return the fault for a wrong RFC or key."""
    return _security_fault(
        "wsse:FailedAuthentication", "Failed to assert identity with UsernameToken."
    )


def invalid_security_fault(text: str) -> str:
    """Return a ``wsse:InvalidSecurity`` fault with ``text``."""
    return _security_fault("wsse:InvalidSecurity", text)


def soap_fault(code: str, text: str) -> str:
    """Return an ``S:`` fault envelope (``code`` is S:Server or S:Client)."""
    return (
        f'<S:Envelope xmlns:S="{SOAP_ENV}"><S:Body>'
        '<S:Fault xmlns:ns4="http://www.w3.org/2003/05/soap-envelope">'
        f"<faultcode>{code}</faultcode><faultstring>{escape(text)}</faultstring>"
        "</S:Fault></S:Body></S:Envelope>"
    )


def server_fault() -> str:
    """Return the S:Server fault VUCEM sends for a request with a bad prefix."""
    return soap_fault(
        "S:Server",
        "javax.xml.soap.SOAPException: com.ctc.wstx.exc.WstxParsingException: "
        'Undeclared namespace prefix "res"\n at [row,col {unknown-source}]: [15,27]',
    )


def empty_request_fault() -> str:
    """Return the S:Client fault VUCEM sends for an empty request body."""
    return soap_fault(
        "S:Client",
        "Couldn't create SOAP message due to exception: XML reader error: "
        "com.ctc.wstx.exc.WstxEOFException: Unexpected EOF in prolog\n"
        " at [row,col {unknown-source}]: [1,0]",
    )


def html_page(title: str, message: str) -> str:
    """Return a small HTML error page, like a proxy or maintenance page."""
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head>\n"
        f"<body><h1>{escape(title)}</h1><p>{escape(message)}</p></body></html>\n"
    )


def multipart_reply(xml: bytes, *, with_root: bool = True) -> tuple[str, bytes]:
    """Wrap ``xml`` as a JAX-WS MTOM reply; return (Content-Type, body).

    With ``with_root=False`` the only part has another Content-Id, so the
    root part named by the ``start`` parameter is missing.
    """
    token = str(uuid.uuid4())
    boundary = f"uuid:{token}"
    root_id = f"<rootpart*{token}@example.jaxws.sun.com>"
    content_type = (
        f'multipart/related; start="{root_id}"; type="application/xop+xml"; '
        f'boundary="{boundary}"; start-info="text/xml"'
    )
    if with_root:
        part_headers = (
            f"Content-Id: {root_id}\r\n"
            'Content-Type: application/xop+xml;charset=utf-8;type="text/xml"\r\n'
            "Content-Transfer-Encoding: binary\r\n"
        )
    else:
        part_headers = (
            f"Content-Id: <attachment-1-{token}@example.jaxws.sun.com>\r\n"
            "Content-Type: application/octet-stream\r\n"
            "Content-Transfer-Encoding: binary\r\n"
        )
        xml = b"\x00sandbox attachment without a SOAP envelope\x00"
    body = (
        f"--{boundary}\r\n{part_headers}\r\n".encode("ascii")
        + xml
        + f"\r\n--{boundary}--\r\n".encode("ascii")
    )
    return content_type, body


def doctype_reply(record: VucemRecord) -> str:
    """Return a success reply with a DOCTYPE whose external entity is used."""
    text = success_reply(record, razon_social_markup="&sandbox;")
    doctype = '<!DOCTYPE S:Envelope [<!ENTITY sandbox SYSTEM "file:///etc/passwd">]>'
    return text.replace(XML_DECLARATION, XML_DECLARATION + "\n" + doctype + "\n", 1)


def billion_laughs_reply(record: VucemRecord) -> str:
    """Return a success reply with the billion-laughs entity expansion."""
    entities = ['<!ENTITY lol0 "lol">']
    for level in range(1, 10):
        entities.append(f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">')
    doctype = "<!DOCTYPE S:Envelope [" + "".join(entities) + "]>"
    text = success_reply(record, razon_social_markup="&lol9;")
    return text.replace(XML_DECLARATION, XML_DECLARATION + "\n" + doctype + "\n", 1)


def latin1_reply(record: VucemRecord) -> bytes:
    """Return a success reply declared and encoded as ISO-8859-1."""
    text = success_reply(record, observaciones=OBSERVACIONES_TEXT)
    text = text.replace(
        XML_DECLARATION, '<?xml version="1.0" encoding="ISO-8859-1"?>', 1
    )
    return text.encode("iso-8859-1", errors="xmlcharrefreplace")


def mojibake_reply(record: VucemRecord) -> bytes:
    """Return a success reply whose UTF-8 text was encoded twice ("estÃ¡")."""
    text = success_reply(record, observaciones=OBSERVACIONES_TEXT)
    return text.encode("utf-8").decode("latin-1").encode("utf-8")


HUGE_MARKER = "\x00HUGE\x00"
HUGE_CHUNK = (
    OBSERVACIONES_TEXT.replace("Í", "I").replace("Ó", "O")[:120].ljust(120) * 512
)


def huge_reply_parts(
    record: VucemRecord, min_bytes: int
) -> tuple[bytes, bytes, int, bytes]:
    """Return (head, chunk, count, tail) of a success reply of at least ``min_bytes``.

    The reply is ``head + chunk * count + tail``; the caller streams it so
    that the whole reply never sits in memory. The chunk is ASCII text that
    goes inside ``observaciones``.
    """
    text = success_reply(record, observaciones=HUGE_MARKER)
    head_text, tail_text = text.split(HUGE_MARKER.ljust(120), 1)
    head = head_text.encode("utf-8")
    tail = tail_text.encode("utf-8")
    chunk = HUGE_CHUNK.encode("ascii")
    missing = max(0, min_bytes - len(head) - len(tail))
    count = -(-missing // len(chunk)) + 1
    return head, chunk, count, tail
