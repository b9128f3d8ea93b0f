"""Runs give back their threads, file descriptors and database connections."""

import os
import threading

import pytest
from django.db import connection

from tests.robustness.helpers import run_pages, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def database_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        )
        return cursor.fetchone()[0]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_threads_and_fds_flat(make_sandbox):
    sandbox = make_sandbox(services=20, importers=2, seed=81)
    run_pages(sandbox, 1, 2, workers=4)
    threads_before = threading.active_count()
    fds_before = open_fds()

    for _ in range(5):
        for _ in range(20):
            sandbox.backend.add_service()
        result = run_pages(sandbox, 1, 2, workers=4)
        assert result.run.succeeded == 20

    # The sandbox's handler threads end once the client's sockets close.
    assert wait_for(lambda: threading.active_count() <= threads_before, timeout=5)
    assert wait_for(lambda: open_fds() <= fds_before, timeout=5)


def test_postgres_connections_closed(make_sandbox):
    if connection.vendor != "postgresql":
        pytest.skip("counts PostgreSQL connections; this run uses " + connection.vendor)
    sandbox = make_sandbox(services=64, importers=3, seed=82)
    before = database_connections()

    result = run_pages(sandbox, 1, 8, workers=16)

    assert result.run.succeeded == 64
    assert wait_for(lambda: database_connections() <= before, timeout=5)
