"""Admin pages of runs: list, chart, detail, permissions."""

import pytest
from django.urls import reverse

from pedimentos.models import Run

RUNS_URL = reverse("admin:pedimentos_run_changelist")


def test_runs_list_renders(superuser_client, make_run):
    good = make_run(succeeded=40, failed=0, hours_ago=30)
    bad = make_run(succeeded=10, failed=30, hours_ago=6)
    response = superuser_client.get(RUNS_URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert f'?run={good.pk}"' in body
    assert f"run={bad.pk}&amp;status__exact=failed" in body
    assert "25.0 %" in body  # success rate of the bad run
    assert "1 min 35 s" in body  # duration


def test_runs_list_newest_first(superuser_client, make_run):
    old = make_run(hours_ago=48)
    new = make_run(hours_ago=1)
    response = superuser_client.get(RUNS_URL)
    runs = list(response.context["cl"].result_list)
    assert runs.index(new) < runs.index(old)


def test_runs_chart_has_one_bar_per_run(superuser_client, make_run):
    for hours in range(35, 0, -1):
        make_run(succeeded=hours, failed=1, hours_ago=hours)
    response = superuser_client.get(RUNS_URL)
    body = response.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="pedimentos-chart"' in body
    assert body.count('class="pedimentos-chart-bar"') == 30


def test_runs_filter_by_status(superuser_client, make_run):
    make_run(status=Run.Status.COMPLETED)
    aborted = make_run(status=Run.Status.ABORTED)
    response = superuser_client.get(RUNS_URL, {"status__exact": "aborted"})
    assert list(response.context["cl"].result_list) == [aborted]


def test_run_detail_shows_causes(superuser_client, make_run, make_outcome):
    run = make_run(succeeded=1, failed=2)
    make_outcome(run, status="failed", error_kind="auth_failed")
    make_outcome(run, status="failed", error_kind="auth_failed")
    response = superuser_client.get(reverse("admin:pedimentos_run_change", args=[run.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "error_kind__exact=auth_failed" in body
    assert ": 2</a>" in body


def test_runs_read_only(superuser_client, make_run):
    run = make_run()
    add = superuser_client.get(reverse("admin:pedimentos_run_add"))
    assert add.status_code == 403
    change = superuser_client.post(
        reverse("admin:pedimentos_run_change", args=[run.pk]), {"status": "aborted"}
    )
    assert change.status_code == 403
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED


def test_runs_delete_superuser_only(superuser_client, staff_client, make_run):
    run = make_run()
    url = reverse("admin:pedimentos_run_delete", args=[run.pk])
    staff = staff_client("bea", "view_run", "delete_run")
    assert staff.get(url).status_code == 403
    assert superuser_client.get(url).status_code == 200


@pytest.mark.parametrize("name,args", [
    ("admin:pedimentos_run_changelist", []),
    ("admin:pedimentos_serviceoutcome_changelist", []),
])
def test_pages_redirect_anonymous(client, db, name, args):
    url = reverse(name, args=args)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_detail_redirects_anonymous(client, make_run, make_outcome):
    outcome = make_outcome(make_run())
    for url in (
        reverse("admin:pedimentos_run_change", args=[outcome.run_id]),
        reverse("admin:pedimentos_serviceoutcome_change", args=[outcome.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login"))


def test_runs_list_spanish_by_default(superuser_client, make_run):
    make_run()
    body = superuser_client.get(RUNS_URL).content.decode()
    assert "Últimas ejecuciones" in body


def test_runs_list_english_on_request(superuser_client, make_run):
    make_run()
    body = superuser_client.get(RUNS_URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Latest runs" in body


def test_runs_list_columns_compact(superuser_client, make_run):
    make_run(succeeded=3, failed=1)
    response = superuser_client.get(RUNS_URL)
    fields = list(response.context["cl"].list_display)
    for dropped in ("service_type", "workers", "kind", "finished", "outcomes_link"):
        assert dropped not in fields, dropped
    for kept in ("started", "status_badge", "pages", "processed_link", "succeeded",
                 "failed_link", "success_rate_display", "duration", "started_by"):
        assert kept in fields, kept


def test_runs_list_pages_names_retry(superuser_client, make_run):
    make_run(succeeded=2, kind=Run.Kind.RETRY)
    body = superuser_client.get(RUNS_URL).content.decode()
    assert '<td class="field-pages">Reintento</td>' in body


def test_run_detail_outcomes_link_text(superuser_client, make_run, make_outcome):
    run = make_run(succeeded=2)
    make_outcome(run)
    make_outcome(run)
    response = superuser_client.get(reverse("admin:pedimentos_run_change", args=[run.pk]))
    body = response.content.decode()
    assert "Ver los 2 resultados de esta ejecución</a>" in body
    assert ">Resultados</a>" not in body


def test_plain_list_not_indented(superuser_client, make_run):
    run = make_run(failed=1)
    response = superuser_client.get(reverse("admin:pedimentos_run_change", args=[run.pk]))
    body = response.content.decode()
    assert "form .aligned ul.pedimentos-plain-list" in body
