"""Client for VUCEM's ConsultarPedimentoCompleto SOAP service.

The package is split by concern: ``fields`` normalizes the request values,
``envelope`` renders the request from a Django template, ``transport`` sends
it over HTTPS, ``replies`` interprets the reply, and ``client`` ties them
together. The names below are the public interface.
"""

from .client import VucemClient
from .envelope import render_consultar_pedimento_completo
from .fields import Credentials, PedimentoQuery, normalize_query, validate_rfc
from .replies import PedimentoCompletoReply, parse_pedimento_completo_reply

__all__ = [
    "Credentials",
    "PedimentoCompletoReply",
    "PedimentoQuery",
    "VucemClient",
    "normalize_query",
    "parse_pedimento_completo_reply",
    "render_consultar_pedimento_completo",
    "validate_rfc",
]
