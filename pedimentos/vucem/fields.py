"""Normalize and validate the values sent to VUCEM: aduana, patente, pedimento, RFC.

VUCEM's pedimentos services take three request fields, each a fixed-width
digit string:

* ``aduana``: 3 digits, the 2-digit aduana followed by the 1-digit sección
  (``070`` is Ciudad Juárez sección 0, ``160`` is Manzanillo sección 0).
  A 3-digit value is sent as is. A 2-digit value is read as the aduana alone
  and gets sección 0 appended, so ``07`` becomes ``070``. A 1-digit value is
  rejected as ambiguous, and so is anything that is not made of digits.
  NOTE: VUCEM's replies write claves without zero padding (``70`` for
  ``070``), and this rule reads such a value as aduana 70 (``700``), so the
  backend must store the 2-digit aduana or the full 3-digit clave.
* ``patente``: 4 digits. Every VUCEM sample has 4, so shorter values are
  rejected instead of padded.
* ``pedimento``: 7 digits. The printed 15-digit form ``AA AD PPPP NNNNNNN``
  (year, aduana, patente, number, with or without the spaces) is accepted
  too: its last 7 digits are the pedimento and its ``PPPP`` must equal the
  patente.

The functions here are pure: they raise ``InvalidServiceData`` naming the
field, the value and what is expected, and never touch the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NoReturn

from pedimentos.exceptions import InvalidServiceData

# Persona moral: 3 letters, persona física: 4 letters, then the YYMMDD date
# and a 3-character homoclave. The letter block may contain "&" and "Ñ".
RFC_PATTERN = re.compile(r"[A-ZÑ&]{3,4}[0-9]{6}[A-Z0-9]{3}")

_DIGITS = re.compile(r"[0-9]+")
_FULL_PEDIMENTO = re.compile(r"([0-9]{2}) ?([0-9]{2}) ?([0-9]{4}) ?([0-9]{7})")


@dataclass(frozen=True)
class Credentials:
    """A VUCEM web-service login: the RFC and its web-service key."""

    username: str
    # repr=False keeps the key out of repr(), so out of tracebacks and logs.
    password: str = field(repr=False)


@dataclass(frozen=True)
class PedimentoQuery:
    """The normalized aduana, patente and pedimento of one VUCEM request."""

    aduana: str
    patente: str
    pedimento: str

    def __str__(self) -> str:
        return f"{self.aduana}-{self.patente}-{self.pedimento}"


def normalize_query(aduana, patente, pedimento) -> PedimentoQuery:
    """Return the query VUCEM expects, or raise ``InvalidServiceData``."""
    normalized_aduana = normalize_aduana(aduana)
    normalized_patente = normalize_patente(patente)
    return PedimentoQuery(
        aduana=normalized_aduana,
        patente=normalized_patente,
        pedimento=normalize_pedimento(pedimento, patente=normalized_patente),
    )


def normalize_aduana(value) -> str:
    """Return the 3-digit aduana and sección clave for ``value``."""
    text = _clean("aduana", value)
    if not _DIGITS.fullmatch(text):
        _reject("aduana", value, "digits only, such as '070' or '07'")
    if len(text) == 3:
        return text
    if len(text) == 2:
        return text + "0"
    if len(text) == 1:
        _reject(
            "aduana",
            value,
            "2 digits (aduana, sección 0 is assumed) or 3 digits (aduana and "
            "sección), because a single digit is ambiguous",
        )
    _reject("aduana", value, "2 or 3 digits, such as '07' or '070'")


def normalize_patente(value) -> str:
    """Return the 4-digit patente for ``value``."""
    text = _clean("patente", value)
    if not (_DIGITS.fullmatch(text) and len(text) == 4):
        _reject("patente", value, "exactly 4 digits, such as '3420'")
    return text


def normalize_pedimento(value, *, patente: str) -> str:
    """Return the 7-digit pedimento for ``value``, checking the 15-digit form."""
    text = _clean("pedimento", value)
    if _DIGITS.fullmatch(text) and len(text) == 7:
        return text

    full = _FULL_PEDIMENTO.fullmatch(text)
    if full is None:
        _reject(
            "pedimento",
            value,
            "7 digits, or the 15-digit form 'AA AD PPPP NNNNNNN' (spaces optional)",
        )
    _year, _aduana, full_patente, number = full.groups()
    if full_patente != patente:
        _reject(
            "pedimento",
            value,
            f"a 15-digit form whose patente digits ({full_patente}) equal "
            f"the service's patente {patente}",
        )
    return number


def validate_rfc(value) -> str:
    """Return ``value`` stripped and upper-cased if it is a well-formed RFC."""
    text = _clean("RFC", value).upper()
    if not RFC_PATTERN.fullmatch(text):
        _reject(
            "RFC",
            value,
            "12 or 13 characters: 3 or 4 letters (A-Z, Ñ, &), a YYMMDD date "
            "and a 3-character homoclave",
        )
    return text


def _clean(field_name: str, value) -> str:
    """Return ``value`` as a stripped string, rejecting None, blanks and bools."""
    if value is None:
        _reject(field_name, value, "a value")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        _reject(field_name, value, "a string or an integer")
    text = value.strip()
    if not text:
        _reject(field_name, value, "a value")
    return text


def _reject(field_name: str, value, expected: str) -> NoReturn:
    if value is None or (isinstance(value, str) and not value.strip()):
        message = f"Missing {field_name}: expected {expected}."
    else:
        message = f"Invalid {field_name} {value!r}: expected {expected}."
    raise InvalidServiceData(message, field=field_name, value=value)
