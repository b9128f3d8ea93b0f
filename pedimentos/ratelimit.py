"""A process-wide limiter on how often VUCEM requests may start."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """Keep at least ``interval`` seconds between the starts of any two calls.

    Each caller reserves the next free start time under a lock and then
    sleeps outside it, so waiting callers are served in arrival order and
    the lock is never held while sleeping. A ``stop_event`` that is set
    wakes sleepers early; ``acquire`` then returns False.
    """

    def __init__(self, interval: float, *, clock=time.monotonic, stop_event=None):
        if interval < 0:
            raise ValueError(f"interval must be >= 0 seconds, got {interval!r}")
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._next_start = 0.0
        self._stop_event = stop_event

    def reserve(self) -> float:
        """Reserve the next start time and return how long to wait for it."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next_start)
            self._next_start = start + self.interval
            return start - now

    def acquire(self) -> bool:
        """Wait for this caller's turn; return False if stopped while waiting."""
        delay = self.reserve()
        if delay <= 0:
            return True
        if self._stop_event is not None:
            return not self._stop_event.wait(delay)
        time.sleep(delay)
        return True
