"""The process_pedimentos command: arguments, output, exit status."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from pedimentos.models import Run

ROOT = Path(__file__).resolve().parent.parent


def run_command(*args):
    """Call the command in-process; return (exit status, stdout, stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("process_pedimentos", *args, "--no-progress", stdout=stdout, stderr=stderr)
    return exit_info.value.code, stdout.getvalue(), stderr.getvalue()


@pytest.mark.parametrize(
    "args, message",
    [
        (["1", "3", "--service-type", "4"], "Service type 4 is not supported"),
        (["3", "1"], "Invalid page range 3-1"),
        (["0", "2"], "Invalid page range 0-2"),
        (["1", "2", "--workers", "0"], "Invalid number of workers 0"),
    ],
)
def test_usage_errors(args, message):
    with pytest.raises(CommandError) as error:
        call_command("process_pedimentos", *args)
    assert message in str(error.value)
    assert error.value.returncode == 2


def test_missing_token_aborts(settings, db):
    settings.API_TOKEN = ""
    code, _, stderr = run_command("1", "1")
    assert code == 1
    assert "API_TOKEN is empty" in stderr
    assert Run.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_all_succeeded_exits_zero(make_sandbox, sandbox_settings):
    sandbox = make_sandbox(services=12, importers=2, seed=1)
    sandbox_settings(sandbox)

    code, stdout, _ = run_command("1", "2", "--workers", "2")

    assert code == 0
    assert "=== RESUMEN DEL PROCESAMIENTO MULTIHILO ===" in stdout
    assert "Total servicios procesados: 12" in stdout
    assert "Total servicios exitosos: 12" in stdout
    assert "Tasa de éxito: 100.00%" in stdout
    assert "Processing page 1 with service_type=3" in stdout
    assert "✓ Page 2 completed by PedimentoWorker-" in stdout


@pytest.mark.django_db(transaction=True)
def test_failures_exit_three_with_json(make_sandbox, sandbox_settings):
    sandbox = make_sandbox(services=10, importers=2, seed=1)
    sandbox_settings(sandbox)
    first = sandbox.backend.pending_ids(service_type=3)[0]
    sandbox.vucem.script(sandbox.backend.services[first]["pedimento"]["pedimento"], ["business"])

    code, stdout, stderr = run_command("1", "1", "3", "2", "--json")

    assert code == 3
    data = json.loads(stdout)
    assert data["processed"] == 10
    assert data["succeeded"] == 9
    assert data["failed"] == 1
    assert data["errors_by_kind"] == {"vucem_error": 1}
    assert data["workers"] == 2
    assert data["service_type"] == 3
    assert data["success_rate"] == 90.0
    assert "RESUMEN" in stderr


@pytest.mark.django_db(transaction=True)
def test_nothing_to_do_exits_zero(make_sandbox, sandbox_settings):
    sandbox = make_sandbox(services=0, importers=1, seed=1)
    sandbox_settings(sandbox)

    code, stdout, _ = run_command("1", "3")

    assert code == 0
    assert "Total servicios procesados: 0" in stdout


@pytest.mark.django_db(transaction=True)
def test_wrong_token_exits_one(make_sandbox, sandbox_settings):
    sandbox = make_sandbox(services=5, importers=1, seed=1)
    sandbox_settings(sandbox).API_TOKEN = "not-the-token"

    code, _, stderr = run_command("1", "1")

    assert code == 1
    assert "API_TOKEN" in stderr


def test_sandbox_demo_in_fresh_process(tmp_path):
    """The README's demo: a fresh process, its own database, JSON on stdout."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
           "REQUEST_DELAY_SECONDS": "0.01", "RETRY_BACKOFF_SECONDS": "0.05"}
    env.pop("API_TOKEN", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)

    completed = subprocess.run(
        [sys.executable, "manage.py", "process_pedimentos", "1", "3", "--workers", "2",
         "--sandbox", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )

    assert completed.returncode in (0, 3), completed.stderr
    data = json.loads(completed.stdout)
    assert data["processed"] == 30
    assert data["succeeded"] + data["failed"] == 30
    assert "=== RESUMEN DEL PROCESAMIENTO MULTIHILO ===" in completed.stderr
