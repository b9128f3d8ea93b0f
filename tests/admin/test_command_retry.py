"""``process_pedimentos --retry-failed``: the command-line twin of the action."""

import pytest
from django.core.management import CommandError, call_command

from pedimentos.models import Run
from pedimentos.runner import Runner
from tests.conftest import sandbox_config

pytestmark = pytest.mark.django_db(transaction=True)


def _night_with_failures(sandbox, scripts):
    ids = sorted(sandbox.backend.services)
    for service_id, outcomes in zip(ids, scripts):
        pedimento = sandbox.backend.services[service_id]["pedimento"]["pedimento"]
        sandbox.vucem.script(pedimento, outcomes)
    return Runner(sandbox_config(sandbox), workers=2, service_type=3).run_pages(1, 1).run


def _call(*args):
    with pytest.raises(SystemExit) as exit_info:
        call_command("process_pedimentos", "--no-progress", "--verbosity", "0", *args)
    return exit_info.value.code


def test_retry_failed_by_kind(make_sandbox, sandbox_settings):
    sandbox = make_sandbox(seed=11, services=4)
    sandbox_settings(sandbox)
    night = _night_with_failures(sandbox, [["auth"], ["business"]])
    assert night.failed == 2

    code = _call("--retry-failed", "--error-kind", "auth_failed")

    retry = Run.objects.get(kind=Run.Kind.RETRY)
    assert code == 0
    assert retry.succeeded == 1
    assert retry.failed == 0
    assert retry.started_by.startswith("command (")


def test_retry_failed_by_run(make_sandbox, sandbox_settings):
    sandbox = make_sandbox(seed=12, services=3)
    sandbox_settings(sandbox)
    night = _night_with_failures(sandbox, [["auth"], ["auth"]])

    code = _call("--retry-failed", "--run", str(night.pk), "--since", "2000-01-01")

    retry = Run.objects.get(kind=Run.Kind.RETRY)
    assert code == 0
    assert retry.succeeded == 2


def test_retry_failed_unknown_kind(db, settings):
    settings.API_TOKEN = "a-token-for-validation"
    with pytest.raises(CommandError) as error:
        call_command("process_pedimentos", "--retry-failed", "--error-kind", "bogus")
    assert "bogus" in str(error.value)


def test_retry_failed_invalid_date(db, settings):
    settings.API_TOKEN = "a-token-for-validation"
    with pytest.raises(CommandError) as error:
        call_command("process_pedimentos", "--retry-failed", "--since", "03/01/2025")
    assert "YYYY-MM-DD" in str(error.value)


def test_retry_failed_skips_done_in_backend(make_sandbox, sandbox_settings):
    sandbox = make_sandbox(seed=13, services=3)
    sandbox_settings(sandbox)
    night = _night_with_failures(sandbox, [["auth"], ["auth"]])
    assert night.failed == 2
    finished, still_failed = sorted(night.outcomes.filter(status="failed").values_list(
        "service_id", flat=True))
    # Another tool finished one of them in the backend after the night run.
    service = sandbox.backend.services[finished]
    status, _ = sandbox.backend.update_service(finished, {
        "estado": 3,
        "pedimento": service["pedimento"]["id"],
        "servicio": service["servicio"],
        "tipo_procesamiento": service["tipo_procesamiento"],
        "organizacion": service["organizacion"],
    })
    assert status == 200
    requests_before = sandbox.vucem.request_count

    code = _call("--retry-failed", "--run", str(night.pk))

    retry = Run.objects.get(kind=Run.Kind.RETRY)
    assert code == 0
    assert list(retry.outcomes.values_list("service_id", flat=True)) == [still_failed]
    assert retry.succeeded == 1
    assert sandbox.vucem.request_count - requests_before == 1
    assert sum(1 for doc in sandbox.backend.documents
               if doc["pedimento"] == service["pedimento"]["id"]) == 0
