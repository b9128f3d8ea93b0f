"""One end-to-end check in headless Chromium: filter failures, retry, see the run."""

from __future__ import annotations

import os
import shutil

import pytest
from django.contrib.auth.models import User

from pedimentos.models import Run, ServiceOutcome
from pedimentos.runner import Runner
from tests.conftest import sandbox_config

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORD = "browser-pass-1"


def _chromium_path() -> str | None:
    if os.path.exists("/usr/bin/chromium"):
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _playwright_api():
    try:
        from playwright import sync_api
    except ImportError:
        return None
    return sync_api


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_retry_from_browser(live_server, make_sandbox, sandbox_settings):
    api = _playwright_api()
    chromium = _chromium_path()
    if api is None or chromium is None:
        pytest.skip(
            "No browser: this test needs the playwright package and Debian's chromium "
            "(apt-get install chromium)."
        )

    # Database work happens outside the Playwright block: its sync API runs
    # an asyncio loop in this thread, where Django refuses database calls.
    User.objects.create_superuser("ana", "ana@example.com", PASSWORD)
    sandbox = make_sandbox(seed=21, services=6)
    sandbox_settings(sandbox)
    broken = sorted(sandbox.backend.services)[:2]
    for service_id in broken:
        pedimento = sandbox.backend.services[service_id]["pedimento"]["pedimento"]
        sandbox.vucem.script(pedimento, ["auth"])
    night = Runner(sandbox_config(sandbox), workers=2, service_type=3).run_pages(1, 1).run
    assert night.failed == 2

    expect = api.expect
    with api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale="es-MX")
            page.set_default_timeout(20_000)
            page.goto(f"{live_server.url}/admin/login/?next=/admin/pedimentos/serviceoutcome/")
            page.fill("#id_username", "ana")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")

            page.click("#changelist-filter a[href*='status__exact=failed']")
            cause = page.locator("#failures-by-cause a", has_text="Falló la autenticación en VUCEM")
            cause.first.click()
            page.wait_for_url("**error_kind__exact=auth_failed**")
            expect(page.locator("#result_list tbody tr")).to_have_count(2)

            page.check("#action-toggle")
            page.select_option("select[name=action]", "retry_failed_services")
            page.click("button[name=index]")
            expect(page.locator("#retry-list tbody tr")).to_have_count(2)
            page.click("#confirm-retry")

            success = page.locator(".messagelist .success")
            expect(success).to_have_count(1)
            success_text = success.inner_text()
            page.goto(f"{live_server.url}/admin/pedimentos/run/?kind__exact=retry")
            expect(page.locator("#result_list tbody tr")).to_have_count(1)
            runs_text = page.locator("#result_list").inner_text()
        finally:
            browser.close()

    retry = Run.objects.get(kind=Run.Kind.RETRY)
    assert f"ejecución {retry.pk}: 2 exitosos, 0 siguen fallando, 0 omitidos" in success_text
    assert "admin: ana" in runs_text
    assert retry.started_by == "admin: ana"
    assert retry.succeeded == 2
    assert ServiceOutcome.objects.filter(run=night, status="failed").count() == 2
    for service_id in broken:
        assert sandbox.backend.state_of(service_id) == 3
