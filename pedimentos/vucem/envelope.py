"""Render the SOAP request envelope for VUCEM's ConsultarPedimentoCompleto.

The split between the Django template engine and zeep is deliberate:

* The whole request, including its single ``wsse:Security`` header, is the
  Django template ``soap/consultar_pedimento_completo.xml``. Autoescape
  escapes every value, so an RFC with ``&`` or a key with ``<`` or quotes
  stays well-formed. zeep does not build or send the request. The template
  already contains the one Security header VUCEM accepts, and a second one,
  such as a zeep ``UsernameToken`` plugin adds, gets ``wsse:InvalidSecurity``.
  zeep 4.3's transport also logs the whole envelope, password included, at
  DEBUG.
* zeep parses the replies (``pedimentos.vucem.replies``) with DTDs, entities
  and external references forbidden, and requests-toolbelt, a zeep
  dependency, splits multipart (MTOM) replies.
"""

from __future__ import annotations

import re

from django.template.loader import render_to_string

from pedimentos.exceptions import InvalidServiceData

from .fields import Credentials, PedimentoQuery

TEMPLATE_NAME = "soap/consultar_pedimento_completo.xml"

# Characters that XML 1.0 cannot carry at all, not even escaped.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render_consultar_pedimento_completo(
    query: PedimentoQuery, credentials: Credentials
) -> bytes:
    """Render the ConsultarPedimentoCompleto request as UTF-8 bytes."""
    _check_xml_chars("RFC", credentials.username, show_value=True)
    _check_xml_chars("web-service key", credentials.password, show_value=False)

    context = {
        "username": credentials.username,
        "password": credentials.password,
        "aduana": query.aduana,
        "patente": query.patente,
        "pedimento": query.pedimento,
    }
    return render_to_string(TEMPLATE_NAME, context).encode("utf-8")


def _check_xml_chars(name: str, value: str, *, show_value: bool) -> None:
    """Raise ``InvalidServiceData`` if ``value`` contains a control character."""
    if not _XML_ILLEGAL.search(value):
        return
    quoted_value = f" {value!r}" if show_value else ""
    raise InvalidServiceData(
        f"Invalid {name}{quoted_value}: it contains a control character that XML "
        f"cannot carry. Correct the VUCEM credentials stored in the backend.",
        field=name,
    )
