import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from pedimentos.exceptions import InvalidServiceData, VucemTransportError
from pedimentos.retry import RetryPolicy, call_with_retry, parse_retry_after


def test_backoff_doubles_up_to_cap():
    policy = RetryPolicy(backoff=2.0, backoff_max=10.0, jitter=0)
    delays = [policy.backoff_delay(n) for n in range(1, 6)]
    assert delays == [2.0, 4.0, 8.0, 10.0, 10.0]


def test_backoff_jitter_stays_in_range():
    policy = RetryPolicy(backoff=4.0, backoff_max=100.0, jitter=0.5)
    rng = random.Random(7)
    delays = [policy.backoff_delay(2, rng=rng) for _ in range(200)]
    assert min(delays) >= 4.0
    assert max(delays) <= 8.0
    assert len(set(delays)) > 100


def test_retry_after_wins_and_is_capped():
    policy = RetryPolicy(backoff=2.0, retry_after_max=30.0, jitter=0)
    assert policy.delay_for(VucemTransportError("x", retry_after=5), 1) == 5
    assert policy.delay_for(VucemTransportError("x", retry_after=500), 1) == 30.0
    assert policy.delay_for(VucemTransportError("x"), 2) == 4.0


def test_parse_retry_after_forms():
    now = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_transient_retried_until_success():
    calls = []
    sleeps = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise VucemTransportError("HTTP 503")
        return "reply"

    policy = RetryPolicy(max_attempts=3, backoff=1.0, jitter=0)
    result = call_with_retry(flaky, policy, description="t", sleep=sleeps.append)
    assert result == "reply"
    assert len(calls) == 3
    assert sleeps == [1.0, 2.0]


def test_transient_gives_up_after_max_attempts():
    calls = []

    def down():
        calls.append(1)
        raise VucemTransportError("HTTP 503")

    with pytest.raises(VucemTransportError):
        call_with_retry(down, RetryPolicy(max_attempts=3, jitter=0), description="t", sleep=lambda s: None)
    assert len(calls) == 3


def test_permanent_error_not_retried():
    calls = []
    attempts = []

    def bad():
        calls.append(1)
        raise InvalidServiceData("bad aduana")

    with pytest.raises(InvalidServiceData):
        call_with_retry(bad, RetryPolicy(max_attempts=3), description="t", sleep=lambda s: None,
                        on_attempt=lambda n, e, s: attempts.append(n))
    assert calls == [1]
    assert attempts == [1]


def test_sleep_returning_false_stops_retries():
    calls = []

    def down():
        calls.append(1)
        raise VucemTransportError("HTTP 503")

    with pytest.raises(VucemTransportError):
        call_with_retry(down, RetryPolicy(max_attempts=5, jitter=0), description="t", sleep=lambda s: False)
    assert calls == [1]
