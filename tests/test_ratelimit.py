import threading
import time

import pytest

from pedimentos.ratelimit import RateLimiter


def test_reservations_are_spaced_by_interval():
    now = [100.0]
    limiter = RateLimiter(0.5, clock=lambda: now[0])
    delays = [limiter.reserve() for _ in range(4)]
    assert delays == [0.0, 0.5, 1.0, 1.5]


def test_idle_time_is_not_banked():
    now = [0.0]
    limiter = RateLimiter(1.0, clock=lambda: now[0])
    assert limiter.reserve() == 0.0
    now[0] = 10.0
    assert limiter.reserve() == 0.0
    assert limiter.reserve() == 1.0


def test_threads_start_at_least_interval_apart():
    limiter = RateLimiter(0.05)
    starts = []
    lock = threading.Lock()

    def worker():
        for _ in range(3):
            limiter.acquire()
            with lock:
                starts.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(6)]
    begin = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    starts.sort()
    assert len(starts) == 18
    # A sleeper may wake late but never early, so the n-th start (0-based)
    # comes at least n intervals after the first reservation. Comparing
    # neighbours instead would fail whenever the machine delays one thread.
    for number, started in enumerate(starts):
        assert started - begin >= number * 0.05 - 0.002


def test_stop_event_wakes_waiters():
    stop = threading.Event()
    limiter = RateLimiter(30.0, stop_event=stop)
    assert limiter.acquire() is True
    timer = threading.Timer(0.1, stop.set)
    timer.start()
    started = time.monotonic()
    assert limiter.acquire() is False
    assert time.monotonic() - started < 5


def test_negative_interval_rejected():
    with pytest.raises(ValueError):
        RateLimiter(-1)
