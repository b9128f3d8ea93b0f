import threading
import time

import pytest

from pedimentos.ratelimit import RateLimiter


def test_turns_are_spaced_by_interval():
    now = [100.0]
    limiter = RateLimiter(0.5, clock=lambda: now[0])
    assert limiter.try_acquire() == 0.0
    assert limiter.try_acquire() == pytest.approx(0.5)
    now[0] = 100.3
    assert limiter.try_acquire() == pytest.approx(0.2)
    now[0] = 100.5
    assert limiter.try_acquire() == 0.0
    assert limiter.try_acquire() == pytest.approx(0.5)


def test_idle_time_is_not_banked():
    now = [0.0]
    limiter = RateLimiter(1.0, clock=lambda: now[0])
    assert limiter.try_acquire() == 0.0
    now[0] = 10.0
    assert limiter.try_acquire() == 0.0
    assert limiter.try_acquire() == pytest.approx(1.0)


def test_threads_start_at_least_interval_apart():
    interval = 0.05
    clock_lock = threading.Lock()
    granted = []

    def clock():
        return time.monotonic()

    limiter = RateLimiter(interval, clock=clock)
    original = limiter.try_acquire

    def recording_try_acquire():
        # Record the clock reading that granted each turn, under the
        # limiter's own decision, so thread scheduling cannot blur it.
        with clock_lock:
            delay = original()
            if delay == 0.0:
                granted.append(limiter._next_start - interval)
            return delay

    limiter.try_acquire = recording_try_acquire

    def worker():
        for _ in range(3):
            assert limiter.acquire() is True

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(granted) == 18
    gaps = [later - earlier for earlier, later in zip(granted, granted[1:])]
    assert min(gaps) >= interval


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
