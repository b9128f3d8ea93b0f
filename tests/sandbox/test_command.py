"""Tests of the ``sandbox`` management command."""

from __future__ import annotations

import os
import signal
import socket
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


def test_command_rejects_host_exit_two():
    with pytest.raises(CommandError) as error:
        call_command("sandbox", host="0.0.0.0")
    assert error.value.returncode == 2


def test_command_rejects_share_exit_two():
    with pytest.raises(CommandError) as error:
        call_command("sandbox", vucem_503=1.5)
    assert error.value.returncode == 2


@pytest.mark.parametrize(
    "option, port",
    [("backend_port", 99999), ("backend_port", -1), ("vucem_port", 65536)],
)
def test_command_rejects_port_range(option, port):
    with pytest.raises(CommandError) as error:
        call_command("sandbox", **{option: port})
    flag = "--" + option.replace("_", "-")
    assert f"Invalid {flag} {port}" in str(error.value)
    assert error.value.returncode == 2


def test_command_rejects_same_ports():
    with pytest.raises(CommandError) as error:
        call_command("sandbox", backend_port=8899, vucem_port=8899)
    assert "both 8899" in str(error.value)
    assert error.value.returncode == 2


def test_command_port_in_use_names_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]
        with pytest.raises(CommandError) as error:
            call_command("sandbox", backend_port=busy, vucem_port=0)
    message = str(error.value)
    assert f"Port {busy} on 127.0.0.1 is already in use" in message
    assert "--backend-port 0" in message


def test_command_port_overflow_in_subprocess():
    completed = subprocess.run(
        [sys.executable, str(MANAGE_PY), "sandbox", "--backend-port", "99999"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "Invalid --backend-port 99999" in completed.stderr
    assert "Traceback" not in completed.stderr
