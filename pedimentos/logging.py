"""A logging filter that masks registered secrets in every record.

The API token and each VUCEM key fetched during a run are registered here
as soon as they are known. A secret that reaches a log call by accident, in
a library's debug output or an exception text, is replaced with ``***``.
This is a safety net: the code itself never passes secrets to a logger.
"""

from __future__ import annotations

import logging
import threading

MASK = "***"
# Secrets shorter than this are not masked: replacing every "1" or "ab" in
# the logs would hide more than it protects.
MIN_SECRET_LENGTH = 4

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()


def register_secret(value: str | None) -> None:
    """Add a value to the set of strings masked in log records."""
    global _secrets
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if value in _secrets:
            return
        variants = {value}
        # Secrets also show up XML-escaped (in envelopes) and %-encoded.
        escaped = (
            value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#x27;")
        )
        variants.add(escaped)
        _secrets = _secrets | variants


def redact(text: str) -> str:
    """Return the text with every registered secret replaced by the mask."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactSecretsFilter(logging.Filter):
    """Mask registered secrets in the formatted message and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            text = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = redact(text)
            record.exc_info = None
            record.msg = f"{record.msg}\n{record.exc_text}"
            record.exc_text = None
        return True
