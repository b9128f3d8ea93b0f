"""Retry policy for transient failures: attempts, backoff, Retry-After."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone

from .exceptions import TransientError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a call that failed transiently.

    ``max_attempts`` counts the first try: 3 means one call and two retries.
    The delay before retry ``n`` (1-based) is
    ``min(backoff_max, backoff * 2 ** (n - 1))``, scaled by a random factor in
    ``[1 - jitter, 1]`` so that workers that failed together do not come back
    together. A server's Retry-After wins over the backoff, up to
    ``retry_after_max`` seconds.
    """

    max_attempts: int = 3
    backoff: float = 2.0
    backoff_max: float = 60.0
    retry_after_max: float = 120.0
    jitter: float = 0.5

    def backoff_delay(self, retry_number: int, *, rng: random.Random | None = None) -> float:
        """Return the seconds to wait before retry ``retry_number`` (1-based)."""
        base = min(self.backoff_max, self.backoff * 2 ** (retry_number - 1))
        if not self.jitter:
            return base
        factor = 1.0 - self.jitter * (rng or random).random()
        return base * factor

    def delay_for(self, error: TransientError, retry_number: int, *, rng=None) -> float:
        """Return the wait before the next attempt after ``error``."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.retry_after_max)
        return self.backoff_delay(retry_number, rng=rng)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse an HTTP Retry-After header (seconds or HTTP-date) into seconds."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def call_with_retry(
    func,
    policy: RetryPolicy,
    *,
    description: str,
    sleep=time.sleep,
    on_attempt=None,
    before_retry=None,
):
    """Call ``func()`` and retry it on ``TransientError`` per ``policy``.

    ``on_attempt(number, error_or_none, seconds)`` is called after every
    attempt. ``before_retry(error)`` runs before each retry and may raise to
    stop retrying. ``sleep(seconds)`` returns False to stop early (shutdown).
    The last transient error is re-raised when attempts run out; permanent
    errors propagate at once.
    """
    attempt = 0
    while True:
        attempt += 1
        started = time.monotonic()
        try:
            result = func()
        except TransientError as error:
            elapsed = time.monotonic() - started
            if on_attempt is not None:
                on_attempt(attempt, error, elapsed)
            if attempt >= policy.max_attempts:
                raise
            delay = policy.delay_for(error, attempt)
            logger.warning(
                "%s failed (attempt %d of %d): %s; retrying in %.1f s",
                description, attempt, policy.max_attempts, str(error).rstrip("."), delay,
            )
            if sleep(delay) is False:
                raise
            if before_retry is not None:
                before_retry(error)
            continue
        except Exception as error:
            if on_attempt is not None:
                on_attempt(attempt, error, time.monotonic() - started)
            raise
        if on_attempt is not None:
            on_attempt(attempt, None, time.monotonic() - started)
        return result
