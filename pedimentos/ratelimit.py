"""A process-wide limiter on how often VUCEM requests may start."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """Keep at least ``interval`` seconds between the starts of any two calls.

    A caller gets its turn only when, under the lock, the clock has reached
    the next free start time, and it then moves that time one interval
    ahead. So the spacing is kept between the moments ``acquire`` returns,
    even when a sleeping thread wakes late. Waiting is done outside the
    lock. A ``stop_event`` that is set wakes waiters early, and ``acquire``
    then returns False.
    """

    def __init__(self, interval: float, *, clock=time.monotonic, stop_event=None):
        if interval < 0:
            raise ValueError(f"interval must be >= 0 seconds, got {interval!r}")
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._next_start = float("-inf")
        self._stop_event = stop_event or threading.Event()

    def try_acquire(self) -> float:
        """Take a turn if one is free now and return 0, else return the seconds to wait."""
        with self._lock:
            now = self._clock()
            if now >= self._next_start:
                self._next_start = now + self.interval
                return 0.0
            return self._next_start - now

    def acquire(self) -> bool:
        """Wait for a turn; return False if the stop event was set while waiting."""
        while True:
            if self._stop_event.is_set():
                return False
            delay = self.try_acquire()
            if delay <= 0:
                return True
            if self._stop_event.wait(delay):
                return False
