"""SIGTERM in the middle of a real run: graceful stop, summary, nothing lost."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pedimentos.sandbox import Sandbox, SandboxConfig, VucemFaults
from tests.robustness.helpers import DONE, FAILED, PENDING

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def database_env(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'signals.sqlite3'}"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    return env


def test_sigterm_stops_gracefully(database_env):
    config = SandboxConfig(seed=5, services=40, importers=3, default_mix=False,
                           vucem=VucemFaults(latency=0.2))
    with Sandbox(config) as sandbox:
        env = {**database_env, "API_URL": sandbox.api_url, "API_TOKEN": sandbox.api_token,
               "VUCEM_URL": sandbox.vucem_url, "REQUEST_DELAY_SECONDS": "0",
               "SHUTDOWN_GRACE_SECONDS": "10"}
        process = subprocess.Popen(
            [sys.executable, "manage.py", "process_pedimentos", "1", "4", "--workers", "2", "--json"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 30
        while sandbox.vucem.request_count < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)

        states = [sandbox.backend.state_of(i) for i in sandbox.backend.services]
        documents = [doc["pedimento"] for doc in sandbox.backend.documents]

    assert process.returncode == 1, stderr
    data = json.loads(stdout)
    assert data["status"] == "interrupted"
    assert "Received SIGTERM" in stderr
    assert "RESUMEN DEL PROCESAMIENTO MULTIHILO" in stderr
    # Services in flight finished; the rest were never touched.
    assert 0 < data["succeeded"] < 40
    assert data["failed"] == 0
    assert states.count(DONE) == data["succeeded"]
    assert states.count(PENDING) == 40 - data["succeeded"]
    assert FAILED not in states
    assert len(documents) == len(set(documents)) == data["succeeded"]
