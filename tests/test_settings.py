"""Settings: bad environment values and invalid run settings give plain errors."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from pedimentos.conf import ProcessingConfig
from pedimentos.retry import RetryPolicy

ROOT = Path(__file__).resolve().parent.parent


def manage_check(**environment):
    """Run ``manage.py check`` in a fresh process with extra environment values."""
    env = {**os.environ, **environment}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("API_PAGE_SIZE", "abc", "Invalid setting API_PAGE_SIZE='abc': expected a whole number"),
        ("API_READ_TIMEOUT", "soon", "Invalid setting API_READ_TIMEOUT='soon': expected a number"),
        ("API_READ_TIMEOUT", "nan", "Invalid setting API_READ_TIMEOUT='nan': expected a number"),
        ("DEBUG", "maybe", "Invalid setting DEBUG='maybe': expected true or false"),
        ("DATABASE_URL", "nonsense", "Invalid setting DATABASE_URL='nonsense': expected a database URL"),
        ("LOG_LEVEL", "LOUD", "expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("LOG_FILE", "/nonexistent/dir/x.log", "expected a file in an existing directory (/nonexistent/dir is not one)"),
    ],
)
def test_settings_bad_value(name, value, expected):
    completed = manage_check(**{name: value})

    assert completed.returncode != 0
    assert completed.stderr.startswith("Error: ")
    assert "Traceback" not in completed.stderr
    assert expected in completed.stderr


def test_settings_database_password_hidden():
    completed = manage_check(DATABASE_URL="nosuchdb://ops:hunter2pw@127.0.0.1/x")

    assert "Invalid setting DATABASE_URL='nosuchdb://ops:***@127.0.0.1/x'" in completed.stderr
    assert "hunter2pw" not in completed.stderr


def test_settings_log_file_directory(tmp_path):
    completed = manage_check(LOG_FILE=str(tmp_path))

    assert "expected a file path, not a directory" in completed.stderr


def test_settings_good_values(tmp_path):
    completed = manage_check(
        API_PAGE_SIZE="25",
        API_READ_TIMEOUT="",
        DEBUG="no",
        LOG_LEVEL="debug",
        LOG_FILE=str(tmp_path / "pedimentos.log"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )

    assert completed.returncode == 0, completed.stderr


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"shutdown_grace": -1.0}, "SHUTDOWN_GRACE_SECONDS=-1.0 must be 0 seconds or more"),
        ({"claim_lease": 0.0}, "CLAIM_LEASE_SECONDS=0.0 must be more than 0 seconds"),
        (
            {"retry_policy": RetryPolicy(backoff=-0.5)},
            "RETRY_BACKOFF_SECONDS=-0.5 must be 0 seconds or more",
        ),
        (
            {"retry_policy": RetryPolicy(backoff_max=-1.0)},
            "RETRY_BACKOFF_MAX_SECONDS=-1.0 must be 0 seconds or more",
        ),
        (
            {"retry_policy": RetryPolicy(retry_after_max=-2.0)},
            "RETRY_AFTER_MAX_SECONDS=-2.0 must be 0 seconds or more",
        ),
    ],
)
def test_config_check_rejects(settings, overrides, message):
    settings.API_TOKEN = "a-test-token"

    with pytest.raises(ImproperlyConfigured) as error:
        ProcessingConfig.from_settings(**overrides)

    assert message in str(error.value)


def test_config_check_accepts_zero(settings):
    settings.API_TOKEN = "a-test-token"

    config = ProcessingConfig.from_settings(
        shutdown_grace=0.0,
        retry_policy=RetryPolicy(backoff=0.0, backoff_max=0.0, retry_after_max=0.0),
    )

    assert config.shutdown_grace == 0.0
    assert config.retry_policy.backoff == 0.0
