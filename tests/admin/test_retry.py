"""The admin's retry action against a real sandbox backend and VUCEM."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from pedimentos import retrying
from pedimentos.models import Run, ServiceClaim, ServiceOutcome
from pedimentos.runner import Runner
from tests.conftest import sandbox_config

OUTCOMES_URL = reverse("admin:pedimentos_serviceoutcome_changelist")
ACTION = "retry_failed_services"

pytestmark = pytest.mark.django_db(transaction=True)


def _post_action(client, outcomes, *, confirm=False, follow=False, url=OUTCOMES_URL):
    data = {
        "action": ACTION,
        "index": 0,
        "_selected_action": [outcome.pk for outcome in outcomes],
    }
    if confirm:
        data["confirm_retry"] = "yes"
    # English, so the checks below can read the messages.
    return client.post(url, data, follow=follow, HTTP_ACCEPT_LANGUAGE="en")


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _first_run(sandbox):
    """Process every pending service of the sandbox once, as cron would."""
    runner = Runner(sandbox_config(sandbox), workers=2, service_type=3)
    return runner.run_pages(1, 2, started_by="command (cron, user ops)").run


def _set_backend_state(sandbox, service_id, estado):
    service = sandbox.backend.services[service_id]
    status, _ = sandbox.backend.update_service(service_id, {
        "estado": estado,
        "pedimento": service["pedimento"]["id"],
        "servicio": service["servicio"],
        "tipo_procesamiento": service["tipo_procesamiento"],
        "organizacion": service["organizacion"],
    })
    assert status == 200


def _pedimento(sandbox, service_id) -> str:
    return sandbox.backend.services[service_id]["pedimento"]["pedimento"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- permissions -------------------------------------------------------------


def test_action_hidden_without_permission(staff_client, make_run, make_outcome):
    make_outcome(make_run(failed=1), status="failed", error_kind="transport")
    client = staff_client("bea", "view_serviceoutcome")
    response = client.get(OUTCOMES_URL)
    assert response.status_code == 200
    assert ACTION not in response.content.decode()


def test_action_shown_with_permission(staff_client, make_run, make_outcome):
    make_outcome(make_run(failed=1), status="failed", error_kind="transport")
    client = staff_client("carla", "view_serviceoutcome", "retry_failed_services")
    response = client.get(OUTCOMES_URL)
    choices = [name for name, _ in response.context["action_form"].fields["action"].choices]
    assert ACTION in choices


def test_action_post_without_permission(staff_client, make_run, make_outcome):
    outcome = make_outcome(make_run(failed=1), status="failed", error_kind="transport")
    client = staff_client("bea", "view_serviceoutcome")
    response = _post_action(client, [outcome], confirm=True)
    assert b"retry-confirmation" not in response.content
    assert not Run.objects.filter(kind=Run.Kind.RETRY).exists()


# --- confirmation page -------------------------------------------------------


def test_confirmation_lists_and_skips(superuser_client, make_sandbox, sandbox_settings,
                                      make_run, make_outcome):
    sandbox = make_sandbox(seed=3, services=6)
    sandbox_settings(sandbox)
    ids = sorted(sandbox.backend.services)
    retry_id, later_ok_id, claimed_id, done_id, ok_id = ids[:5]
    for service_id in (retry_id, later_ok_id, claimed_id):
        _set_backend_state(sandbox, service_id, 2)
    _set_backend_state(sandbox, done_id, 3)

    night = make_run(failed=5, succeeded=1, hours_ago=8)
    older = make_outcome(make_run(failed=1, hours_ago=30), service_id=retry_id,
                         status="failed", error_kind="transport")
    to_retry = make_outcome(night, service_id=retry_id, status="failed", error_kind="auth_failed")
    later_ok = make_outcome(night, service_id=later_ok_id, status="failed", error_kind="transport")
    fixing_run = make_run(succeeded=1, hours_ago=2)
    make_outcome(fixing_run, service_id=later_ok_id, status="succeeded",
                 finished_at=timezone.now() - timedelta(hours=1))
    claimed = make_outcome(night, service_id=claimed_id, status="failed", error_kind="transport")
    live = make_run(status=Run.Status.RUNNING, hours_ago=0.1)
    ServiceClaim.objects.create(service_id=claimed_id, run=live, claimed_at=timezone.now(),
                                expires_at=timezone.now() + timedelta(hours=1))
    done = make_outcome(night, service_id=done_id, status="failed", error_kind="upload_failed")
    ok = make_outcome(night, service_id=ok_id, status="succeeded")
    missing = make_outcome(night, service_id=999999, status="failed", error_kind="transport")

    selection = [older, to_retry, later_ok, claimed, done, ok, missing]
    response = _post_action(superuser_client, selection)
    assert response.status_code == 200
    plan = response.context["plan"]
    assert [o.pk for o in plan.to_retry] == [to_retry.pk]
    reasons = {skipped.outcome.pk: skipped.reason for skipped in plan.skipped}
    assert set(reasons) == {older.pk, later_ok.pk, claimed.pk, done.pk, ok.pk, missing.pk}
    assert str(to_retry.pk) in reasons[older.pk]
    assert f"run {fixing_run.pk}" in reasons[later_ok.pk]
    assert str(live.pk) in reasons[claimed.pk]
    assert "estado 3" in reasons[done.pk]
    assert "Succeeded" in reasons[ok.pk]
    assert "404" in reasons[missing.pk]
    body = response.content.decode()
    assert 'id="confirm-retry"' in body
    assert not Run.objects.filter(kind=Run.Kind.RETRY).exists()


def test_confirmation_later_success_reason(superuser_client, make_sandbox, sandbox_settings,
                                           make_run, make_outcome):
    sandbox = make_sandbox(seed=4, services=2)
    sandbox_settings(sandbox)
    service_id = min(sandbox.backend.services)
    failed = make_outcome(make_run(failed=1, hours_ago=8), service_id=service_id,
                          status="failed", error_kind="transport")
    fixing_run = make_run(succeeded=1, hours_ago=2)
    make_outcome(fixing_run, service_id=service_id, status="succeeded",
                 finished_at=timezone.now() - timedelta(hours=1))
    response = _post_action(superuser_client, [failed])
    plan = response.context["plan"]
    assert plan.to_retry == []
    assert f"run {fixing_run.pk}" in plan.skipped[0].reason
    assert 'id="confirm-retry"' not in response.content.decode()


def test_confirmation_backend_unreachable(superuser_client, settings, make_run, make_outcome):
    settings.API_URL = f"http://127.0.0.1:{_free_port()}/api/v1"
    settings.API_TOKEN = "sandbox-token"
    outcome = make_outcome(make_run(failed=1), status="failed", error_kind="transport")
    response = _post_action(superuser_client, [outcome], follow=False)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="retry-backend-error"' in body
    assert 'id="confirm-retry"' not in body
    assert "127.0.0.1" in response.context["plan"].backend_error

    confirmed = _post_action(superuser_client, [outcome], confirm=True, follow=True)
    assert any("127.0.0.1" in message for message in _messages(confirmed))
    assert not Run.objects.filter(kind=Run.Kind.RETRY).exists()


def test_confirmation_settings_invalid(superuser_client, settings, make_run, make_outcome):
    settings.API_TOKEN = ""
    outcome = make_outcome(make_run(failed=1), status="failed", error_kind="transport")
    response = _post_action(superuser_client, [outcome], follow=True)
    assert any("API_TOKEN" in message for message in _messages(response))


# --- confirmed retries -------------------------------------------------------


def test_retry_fixes_scripted_auth(superuser_client, make_sandbox, sandbox_settings):
    sandbox = make_sandbox(seed=5, services=5)
    sandbox_settings(sandbox)
    broken = sorted(sandbox.backend.services)[:2]
    for service_id in broken:
        sandbox.vucem.script(_pedimento(sandbox, service_id), ["auth"])
    night = _first_run(sandbox)
    assert night.failed == 2
    failures = list(night.outcomes.filter(status="failed"))
    assert {o.error_kind for o in failures} == {"auth_failed"}
    success = night.outcomes.filter(status="succeeded").first()

    response = _post_action(superuser_client, [*failures, success], confirm=True, follow=True)

    assert response.status_code == 200
    retry = Run.objects.get(kind=Run.Kind.RETRY)
    assert retry.started_by == "admin: ana"
    assert retry.status == Run.Status.COMPLETED
    assert retry.succeeded == 2
    assert retry.failed == 0
    for service_id in broken:
        assert sandbox.backend.state_of(service_id) == 3
    assert night.outcomes.filter(status="failed").count() == 2
    text = " ".join(_messages(response))
    assert f"run {retry.pk}: 2 succeeded, 0 still failing, 1 skipped." in text
    assert list(response.context["cl"].result_list) == list(
        ServiceOutcome.objects.filter(run=retry).order_by("-id")
    )


def test_retry_after_key_renewed(superuser_client, make_sandbox, sandbox_settings):
    sandbox = make_sandbox(seed=6, services=8)
    sandbox_settings(sandbox)
    rfc = sandbox.backend.services[min(sandbox.backend.services)]["pedimento"]["contribuyente"]
    importer = next(imp for imp in sandbox.world.importers if imp.rfc == rfc)
    sandbox.backend.set_credentials(importer.rfc, [{"password": "an-old-wrong-key"}])
    night = _first_run(sandbox)
    failures = list(night.outcomes.filter(status="failed"))
    assert failures
    assert {o.rfc for o in failures} == {importer.rfc}
    assert {o.error_kind for o in failures} == {"auth_failed"}

    sandbox.backend.set_credentials(importer.rfc, [{"password": importer.vucem_password}])
    response = _post_action(superuser_client, failures, confirm=True, follow=True,
                            url=OUTCOMES_URL + "?status__exact=failed")

    retry = Run.objects.get(kind=Run.Kind.RETRY)
    assert retry.succeeded == len(failures)
    assert retry.failed == 0
    assert response.status_code == 200


def test_retry_still_failing_counts(superuser_client, make_sandbox, sandbox_settings):
    sandbox = make_sandbox(seed=7, services=3)
    sandbox_settings(sandbox)
    fixed_id, broken_id = sorted(sandbox.backend.services)[:2]
    sandbox.vucem.script(_pedimento(sandbox, fixed_id), ["auth"])
    sandbox.vucem.script(_pedimento(sandbox, broken_id), ["auth", "auth"])
    night = _first_run(sandbox)
    failures = list(night.outcomes.filter(status="failed"))
    assert len(failures) == 2

    response = _post_action(superuser_client, failures, confirm=True, follow=True)

    retry = Run.objects.get(kind=Run.Kind.RETRY)
    assert (retry.succeeded, retry.failed) == (1, 1)
    levels = [m.level_tag for m in get_messages(response.wsgi_request)]
    assert levels == ["warning"]


def test_retry_in_background(superuser_client, make_sandbox, sandbox_settings, monkeypatch):
    monkeypatch.setattr(retrying, "BACKGROUND_RETRY_THRESHOLD", 1)
    sandbox = make_sandbox(seed=8, services=4)
    sandbox_settings(sandbox)
    broken = sorted(sandbox.backend.services)[:3]
    for service_id in broken:
        sandbox.vucem.script(_pedimento(sandbox, service_id), ["auth"])
    failures = list(_first_run(sandbox).outcomes.filter(status="failed"))
    assert len(failures) == 3

    response = _post_action(superuser_client, failures, confirm=True)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:pedimentos_run_changelist"))
    deadline = time.monotonic() + 30
    retry = None
    while time.monotonic() < deadline:
        retry = Run.objects.filter(kind=Run.Kind.RETRY).first()
        if retry is not None and retry.status != Run.Status.RUNNING:
            break
        time.sleep(0.1)
    assert retry is not None
    assert retry.status == Run.Status.COMPLETED
    assert retry.succeeded == 3
    assert retry.started_by == "admin: ana"
