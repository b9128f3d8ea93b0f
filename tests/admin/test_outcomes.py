"""Admin pages of service outcomes: list, failures by cause, search, detail."""

import re

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from pedimentos.admin.outcomes import full_pedimento
from pedimentos.models import ServiceOutcome

OUTCOMES_URL = reverse("admin:pedimentos_serviceoutcome_changelist")


def _causes(response):
    return {cause["kind"]: cause for cause in response.context["failure_causes"]}


def test_outcomes_list_renders(superuser_client, make_run, make_outcome):
    run = make_run(succeeded=1, failed=1)
    make_outcome(run, pedimento_number="4001234")
    make_outcome(run, status="failed", error_kind="transport",
                 error_message="VUCEM: HTTP 503 on every attempt")
    response = superuser_client.get(OUTCOMES_URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert "4001234" in body
    assert "VUCEM: HTTP 503 on every attempt" in body
    assert 'id="failures-by-cause"' in body


def test_causes_count_kinds_and_codes(superuser_client, make_run, make_outcome):
    run = make_run(failed=4)
    for code in ("wsse:FailedAuthentication", "wsse:FailedAuthentication", "S:Other"):
        kind = "auth_failed" if code.startswith("wsse") else "soap_fault"
        make_outcome(run, status="failed", error_kind=kind, error_code=code)
    make_outcome(run, status="failed", error_kind="vucem_error",
                 error_message="No hay información para la búsqueda solicitada")
    causes = _causes(superuser_client.get(OUTCOMES_URL))
    assert causes["auth_failed"]["count"] == 2
    assert causes["auth_failed"]["details"][0]["label"] == "wsse:FailedAuthentication"
    assert causes["auth_failed"]["details"][0]["count"] == 2
    assert causes["soap_fault"]["count"] == 1
    vucem_detail = causes["vucem_error"]["details"][0]
    assert vucem_detail["label"] == "No hay información para la búsqueda solicitada"


def test_causes_follow_filter(superuser_client, make_run, make_outcome):
    first = make_run(failed=1, hours_ago=30)
    second = make_run(failed=2, hours_ago=2)
    make_outcome(first, status="failed", error_kind="transport")
    make_outcome(second, status="failed", error_kind="no_credentials")
    make_outcome(second, status="failed", error_kind="no_credentials")
    causes = _causes(superuser_client.get(OUTCOMES_URL, {"run": second.pk}))
    assert set(causes) == {"no_credentials"}
    assert causes["no_credentials"]["count"] == 2


def test_cause_link_filters_list(superuser_client, make_run, make_outcome):
    run = make_run(failed=3)
    wanted = make_outcome(run, status="failed", error_kind="soap_fault", error_code="S:Server")
    make_outcome(run, status="failed", error_kind="soap_fault", error_code="S:Client")
    make_outcome(run, status="failed", error_kind="transport")
    causes = _causes(superuser_client.get(OUTCOMES_URL))
    detail = next(d for d in causes["soap_fault"]["details"] if d["label"] == "S:Server")
    response = superuser_client.get(OUTCOMES_URL + detail["url"])
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [wanted]
    kind_response = superuser_client.get(OUTCOMES_URL + causes["transport"]["url"])
    assert [o.error_kind for o in kind_response.context["cl"].result_list] == ["transport"]


def test_search_fields(superuser_client, make_run, make_outcome):
    run = make_run()
    target = make_outcome(run, pedimento_number="4999999", rfc="XYZ010101AB1",
                          service_id=777001, aduana="430", patente="1234")
    make_outcome(run)
    for term in ("4999999", "XYZ010101AB1", "777001", "430", "1234"):
        response = superuser_client.get(OUTCOMES_URL, {"q": term})
        assert list(response.context["cl"].result_list) == [target], term


def test_search_text_in_id_field(superuser_client, make_run, make_outcome):
    make_outcome(make_run())
    response = superuser_client.get(OUTCOMES_URL, {"q": "not-a-number"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


def test_filter_still_failing(superuser_client, make_run, make_outcome):
    night = make_run(failed=2, hours_ago=10)
    retry = make_run(succeeded=1, hours_ago=2, kind="retry")
    fixed = make_outcome(night, status="failed", error_kind="transport")
    broken = make_outcome(night, status="failed", error_kind="transport")
    make_outcome(retry, service_id=fixed.service_id, status="succeeded")
    still = superuser_client.get(OUTCOMES_URL, {"now": "still_failing", "status__exact": "failed"})
    assert list(still.context["cl"].result_list) == [broken]
    since = superuser_client.get(OUTCOMES_URL, {"now": "fixed", "status__exact": "failed"})
    assert list(since.context["cl"].result_list) == [fixed]


@override_settings(API_TOKEN="token-that-must-not-show-1234")
def test_detail_shows_everything(superuser_client, make_run, make_outcome):
    run = make_run(failed=1)
    earlier = make_outcome(make_run(failed=1, hours_ago=40), service_id=5151,
                           status="failed", error_kind="transport")
    outcome = make_outcome(
        run, service_id=5151, status="failed", error_kind="auth_failed",
        error_code="wsse:FailedAuthentication",
        error_message="VUCEM rejected the RFC and web-service key.",
        attempts=2, reply_size=5120, reply_sha256="ab" * 32, document_id="doc-88",
        attempt_log=[
            {"at": "2025-03-01T02:00:01-06:00", "seconds": 1.5, "result": "transport: HTTP 503"},
            {"at": "2025-03-01T02:00:04-06:00", "seconds": 0.7, "result": "auth_failed: rejected"},
        ],
    )
    response = superuser_client.get(
        reverse("admin:pedimentos_serviceoutcome_change", args=[outcome.pk]),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    body = response.content.decode()
    for expected in (
        "VUCEM authentication failed",
        "wsse:FailedAuthentication",
        "Renew or correct the key",
        "transport: HTTP 503",
        "1.5 s",
        "ab" * 32,
        "doc-88",
        "5151",
        reverse("admin:pedimentos_serviceoutcome_change", args=[earlier.pk]),
    ):
        assert expected in body, expected
    assert "token-that-must-not-show-1234" not in body


def test_outcomes_read_only(superuser_client, make_run, make_outcome):
    outcome = make_outcome(make_run())
    url = reverse("admin:pedimentos_serviceoutcome_change", args=[outcome.pk])
    response = superuser_client.post(url, {"status": "failed"})
    assert response.status_code == 403
    outcome.refresh_from_db()
    assert outcome.status == ServiceOutcome.Status.SUCCEEDED


def test_date_hierarchy_filter(superuser_client, make_run, make_outcome):
    old = make_outcome(make_run(hours_ago=24 * 20))
    recent = make_outcome(make_run(hours_ago=1))
    day = timezone.localtime(recent.finished_at)
    response = superuser_client.get(OUTCOMES_URL, {
        "finished_at__year": day.year,
        "finished_at__month": day.month,
        "finished_at__day": day.day,
    })
    results = list(response.context["cl"].result_list)
    assert recent in results
    assert old not in results


def _column_classes(body: str) -> set[str]:
    return set(re.findall(r'<th scope="col" class="[^"]*column-([a-z_]+)', body))


def test_list_columns_compact(superuser_client, make_run, make_outcome):
    run = make_run(failed=1)
    make_outcome(run, status="failed", aduana="400", patente="1122",
                 pedimento_number="5683437")
    response = superuser_client.get(OUTCOMES_URL)
    body = response.content.decode()
    columns = _column_classes(body)
    assert "full_pedimento" in columns
    assert "id" not in columns
    assert "aduana" not in columns
    assert "patente" not in columns
    assert "400 1122 5683437" in body


def test_list_error_columns_follow_pedimento(superuser_client, make_run, make_outcome):
    run = make_run(failed=1)
    make_outcome(run, status="failed", error_kind="transport")
    fields = list(
        superuser_client.get(OUTCOMES_URL).context["cl"].list_display
    )
    start = fields.index("full_pedimento")
    assert fields[start + 1:start + 4] == ["status_badge", "error_kind", "short_error"]


def test_short_error_title_holds_full_text(superuser_client, make_run, make_outcome):
    run = make_run(failed=2)
    long_message = "VUCEM replied with an HTML page instead of SOAP. " * 4
    make_outcome(run, status="failed", error_kind="transport",
                 error_message=long_message.strip())
    make_outcome(run, status="failed", error_kind="transport",
                 error_message="Short message")
    body = superuser_client.get(OUTCOMES_URL).content.decode()
    assert f'title="{long_message.strip()}"' in body
    assert long_message.strip() + "</" not in body
    assert "Short message" in body
    assert 'title="Short message"' not in body


def test_full_pedimento_skips_blanks():
    outcome = ServiceOutcome(aduana="", patente="3420", pedimento_number="4001234")
    assert full_pedimento(outcome) == "3420 4001234"
    assert full_pedimento(ServiceOutcome()) == "–"


@pytest.mark.parametrize(
    ("status", "updated", "expected"),
    [
        ("failed", True, "Sí: marcado como fallido en el backend"),
        ("succeeded", True, "Sí: marcado como terminado"),
        ("failed", False, "No"),
    ],
)
def test_backend_state_in_words(superuser_client, make_run, make_outcome, status,
                                updated, expected):
    run = make_run(failed=1)
    outcome = make_outcome(run, status=status, backend_updated=updated)
    url = reverse("admin:pedimentos_serviceoutcome_change", args=[outcome.pk])
    body = superuser_client.get(url).content.decode()
    assert expected in body
    assert "icon-yes.svg" not in body
    assert "icon-no.svg" not in body


def test_causes_count_services(superuser_client, make_run, make_outcome):
    night = make_run(failed=2)
    retry = make_run(failed=2, kind="retry")
    for run in (night, retry):
        make_outcome(run, status="failed", error_kind="transport", service_id=7)
        make_outcome(run, status="failed", error_kind="transport", service_id=8)
    make_outcome(night, status="failed", error_kind="internal", service_id=9)
    response = superuser_client.get(OUTCOMES_URL)
    causes = _causes(response)
    assert causes["transport"]["count"] == 4
    assert causes["transport"]["services"] == 2
    assert causes["transport"]["count_text"] == "4 resultados (2 servicios)"
    assert causes["internal"]["count_text"] == "1"


def test_spanish_labels(superuser_client, make_run, make_outcome):
    run = make_run(failed=1)
    outcome = make_outcome(run, status="failed", error_kind="soap_fault")
    listing = superuser_client.get(OUTCOMES_URL).content.decode()
    assert "Falla SOAP de VUCEM" in listing
    assert "VUCEM respondió con un error" in listing
    url = reverse("admin:pedimentos_serviceoutcome_change", args=[outcome.pk])
    detail = superuser_client.get(url).content.decode()
    for label in ("Código de error SOAP", "Número de operación VUCEM",
                  "UUID del pedimento"):
        assert label in detail, label


def test_site_header_named(superuser_client):
    body = superuser_client.get(reverse("admin:index")).content.decode()
    assert "Pedimentos · VUCEM" in body
    assert "Administración de Django" not in body
