"""Tests of the ``sandbox`` management command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from .conftest import SERVICES_URL

MANAGE_PY = Path(__file__).resolve().parents[2] / "manage.py"


def read_settings(process: subprocess.Popen, timeout: float = 20) -> dict[str, str]:
    """Read the KEY=value lines the command prints until VUCEM_URL appears."""
    values: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while "VUCEM_URL" not in values and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        key, _, value = line.strip().partition("=")
        if key in ("API_URL", "API_TOKEN", "VUCEM_URL"):
            values[key] = value
    return values


def test_command_serves_until_sigterm():
    process = subprocess.Popen(
        [
            sys.executable,
            str(MANAGE_PY),
            "sandbox",
            "--backend-port=0",
            "--vucem-port=0",
            "--services=5",
            "--importers=2",
            "--token=command-test",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        values = read_settings(process)
        assert values["API_TOKEN"] == "command-test"
        assert values["API_URL"].startswith("http://127.0.0.1:")
        assert values["VUCEM_URL"].startswith("http://127.0.0.1:")
        response = requests.get(
            values["API_URL"] + SERVICES_URL,
            headers={"Authorization": "Token command-test"},
            timeout=5,
        )
        assert response.json()["count"] == 5

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert "Sandbox stopped." in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_command_random_token():
    process = subprocess.Popen(
        [
            sys.executable,
            str(MANAGE_PY),
            "sandbox",
            "--backend-port=0",
            "--vucem-port=0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        token = read_settings(process)["API_TOKEN"]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    assert len(token) >= 24
    assert token != "sandbox-token"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])
def test_command_rejects_host(host):
    with pytest.raises(CommandError, match="loopback"):
        call_command("sandbox", host=host)


def test_command_rejects_share():
    with pytest.raises(CommandError, match="http_503"):
        call_command("sandbox", vucem_503=1.5)
