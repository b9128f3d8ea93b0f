"""XML namespace URIs of the SOAP envelopes sent to and received from VUCEM.

Replies are read by namespace URI only: VUCEM's prefixes differ by operation
and by year (``ns2``, ``ns3``, ``S``, ``env``), while the URIs stay the same.
"""

SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"

WSSE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
)
PASSWORD_TEXT = (
    "http://docs.oasis-open.org/wss/2004/01/"
    "oasis-200401-wss-username-token-profile-1.0#PasswordText"
)

_VUCEM = "http://www.ventanillaunica.gob.mx"
COMUNES = f"{_VUCEM}/pedimentos/ws/oxml/comunes"
RESPUESTA = f"{_VUCEM}/common/ws/oxml/respuesta"
PEDIMENTO_COMPLETO = f"{_VUCEM}/pedimentos/ws/oxml/consultarpedimentocompleto"
