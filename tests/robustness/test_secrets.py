"""No VUCEM key or API token in output, log files, the database or the admin."""

import io
import subprocess
from html import escape

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from pedimentos.models import Run, ServiceOutcome
from pedimentos.sandbox import VucemFaults
from tests.robustness.helpers import PROJECT_DIR, PYTHON, command_env

pytestmark = pytest.mark.django_db(transaction=True)

API_TOKEN = "tok-Zq8rV1x-secret-93a"
SPECIAL_KEY = "Key<&>\"'-9f3Secret"
SPECIAL_RFC = "SEC010203AB1"

# Runs the command with every logger at DEBUG, zeep's transport logger
# included, which the settings alone would not do.
DEBUG_EVERYTHING = """
import logging, os, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
for name in ("", "zeep", "zeep.transports", "urllib3", "requests", "django",
             "pedimentos"):
    logging.getLogger(name).setLevel(logging.DEBUG)
from django.core.management import call_command
call_command("process_pedimentos", "1", "2", "--workers", "2", verbosity=3)
"""


def secret_variants(secrets):
    variants = set()
    for secret in secrets:
        variants |= {secret, escape(secret, quote=True), escape(secret, quote=False)}
    return variants


def test_secrets_absent_everywhere(make_sandbox, tmp_path, client):
    sandbox = make_sandbox(
        services=16, importers=4, seed=61, default_mix=True, api_token=API_TOKEN,
        vucem=VucemFaults(),
    )
    sandbox.backend.add_service(rfc=SPECIAL_RFC)
    sandbox.backend.set_credentials(SPECIAL_RFC, [{"password": SPECIAL_KEY}])
    sandbox.vucem.set_credentials(SPECIAL_RFC, SPECIAL_KEY)
    first = sandbox.backend.pending_ids()[-1]
    sandbox.vucem.script(
        sandbox.backend.services[first]["pedimento"]["pedimento"], ["auth"]
    )
    keys = {
        row["password"]
        for rows in sandbox.backend.credentials.values()
        for row in rows
    } | {importer.vucem_password for importer in sandbox.world.importers}
    assert SPECIAL_KEY in keys
    secrets = secret_variants({API_TOKEN, *keys})
    log_file = tmp_path / "pedimentos.log"

    finished = subprocess.run(
        [str(PYTHON), "-c", DEBUG_EVERYTHING],
        cwd=PROJECT_DIR,
        env=command_env(sandbox, LOG_LEVEL="DEBUG", LOG_FILE=log_file),
        capture_output=True,
        text=True,
        timeout=120,
    )

    output = finished.stdout + finished.stderr
    assert finished.returncode == 3, output[-3000:]
    # The output really is at DEBUG, from this app and from the libraries.
    assert "DEBUG pedimentos" in output
    assert "DEBUG urllib3" in output
    run = Run.objects.get()
    assert run.outcomes.filter(status=ServiceOutcome.Status.SUCCEEDED).exists()
    special = run.outcomes.get(rfc=SPECIAL_RFC)
    assert special.status == ServiceOutcome.Status.SUCCEEDED, special.error_message
    assert run.outcomes.filter(error_kind="auth_failed").exists()
    log_text = log_file.read_text()
    assert "DEBUG" in log_text

    user = get_user_model().objects.create_superuser("admin", "a@example.com", "pw-x1")
    client.force_login(user)
    pages = []
    for name, ids in (
        ("run", Run.objects.values_list("pk", flat=True)),
        ("serviceoutcome", ServiceOutcome.objects.values_list("pk", flat=True)),
    ):
        urls = [reverse(f"admin:pedimentos_{name}_changelist")]
        urls += [reverse(f"admin:pedimentos_{name}_change", args=[pk]) for pk in ids]
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            pages.append(response.content.decode())
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)

    places = {
        "command output": output,
        "log file": log_text,
        "database": dump.getvalue(),
        "admin pages": "\n".join(pages),
    }
    for place, text in places.items():
        for secret in secrets:
            assert secret not in text, f"a secret appears in the {place}"
