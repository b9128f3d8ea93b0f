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


@pytest.mark.parametrize(
    "args, message",
    [
        (["--run", "3"], "--run only filters what --retry-failed retries"),
        (["--error-kind", "transport"], "--error-kind only filters"),
        (["--since", "2026-01-01"], "--since only filters"),
        (["--run", "3", "--since", "2026-01-01"], "--run and --since only filter"),
        (["--retry-failed", "1", "3"], "--retry-failed takes no page arguments (got 1 3)"),
        (["--retry-failed", "--test"], "--retry-failed and --test cannot be combined"),
        (["--test", "1", "5"], "--test sets pages 1-2 itself"),
        (["--retry-failed", "--run", "-1"], "Invalid --run -1"),
        (["--retry-failed", "--run", "0"], "Invalid --run 0"),
    ],
)
def test_ignored_options_rejected(args, message):
    with pytest.raises(CommandError) as error:
        call_command("process_pedimentos", *args)
    assert message in str(error.value)
    assert error.value.returncode == 2


def test_retry_unknown_run(db):
    with pytest.raises(CommandError) as error:
        call_command("process_pedimentos", "--retry-failed", "--run", "99999")
    assert str(error.value) == "Run 99999 not found."
    assert error.value.returncode == 2


def run_in_process(env, *args):
    """Run the command in a fresh Python process; return the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "manage.py", "process_pedimentos", *args, "--no-progress"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_unmigrated_database_exits_one(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
           "API_TOKEN": "a-test-token", "API_URL": "http://127.0.0.1:1/api/v1"}

    completed = run_in_process(env, "1", "1")

    assert completed.returncode == 1
    assert ("The database has unapplied migrations; run `python manage.py migrate` first."
            in completed.stderr)
    assert "Traceback" not in completed.stderr
    assert "127.0.0.1:1" not in completed.stderr + completed.stdout


def test_unreachable_database_exits_one(tmp_path):
    missing = tmp_path / "no-such-dir" / "db.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{missing}", "API_TOKEN": "a-test-token"}

    completed = run_in_process(env, "1", "1")

    assert completed.returncode == 1
    assert "Cannot read the database: unable to open database file" in completed.stderr
    assert "Check DATABASE_URL" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.fixture
def migrated_env(tmp_path):
    """Environment of a fresh process with its own migrated SQLite database."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
           "API_TOKEN": "a-test-token", "REQUEST_DELAY_SECONDS": "0",
           "RETRY_BACKOFF_SECONDS": "0.01", "API_CONNECT_TIMEOUT": "1"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    return env


def test_url_password_masked(migrated_env):
    # Nothing listens on port 1, so the backend is unreachable and the
    # connection error quotes API_URL.
    env = {**migrated_env, "API_URL": "http://ops:Pa55word-api@127.0.0.1:1/api/v1",
           "VUCEM_URL": "http://rfc:Pa55word-vucem@127.0.0.1:1"}

    completed = run_in_process(env, "1", "1", "-v", "2")

    assert completed.returncode == 1
    output = completed.stdout + completed.stderr
    assert "cannot connect to http://ops:***@127.0.0.1:1" in output
    assert "Pa55word-api" not in output
    assert "Pa55word-vucem" not in output


def test_url_password_not_stored(migrated_env):
    env = {**migrated_env, "API_URL": "http://ops:Pa55word-api@127.0.0.1:1/api/v1"}

    run_in_process(env, "1", "1")
    completed = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from pedimentos.models import Run; print(Run.objects.get().message)"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )

    assert "cannot connect to" in completed.stdout
    assert "Pa55word-api" not in completed.stdout


@pytest.mark.parametrize("is_terminal, expected", [(True, "terminal"), (False, "no terminal")])
def test_started_by_terminal(monkeypatch, is_terminal, expected):
    from pedimentos.management.commands.process_pedimentos import _started_by

    class Stdin:
        def isatty(self):
            return is_terminal

    # getpass.getuser() reads LOGNAME first, then USER.
    monkeypatch.setenv("LOGNAME", "ops")
    monkeypatch.setenv("USER", "ops")
    monkeypatch.setattr(sys, "stdin", Stdin())

    assert _started_by() == f"command (user ops, {expected})"
