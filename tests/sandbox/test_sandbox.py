"""Tests of the Sandbox lifecycle, seeding and behaviour under load."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from pedimentos.sandbox import Sandbox, SandboxConfig, VucemFaults

from .conftest import SERVICES_URL, Client, soap_request, valid_query


def snapshot(sandbox: Sandbox) -> tuple:
    importers = [
        (imp.rfc, imp.vucem_password, imp.case) for imp in sandbox.world.importers
    ]
    return (
        sandbox.backend.services,
        importers,
        sandbox.world.vucem_records,
        sandbox.cases,
    )


def test_same_seed_same_data():
    first = Sandbox(SandboxConfig(seed=99))
    second = Sandbox(SandboxConfig(seed=99))
    assert snapshot(first) == snapshot(second)


def test_other_seed_other_data():
    first = Sandbox(SandboxConfig(seed=99))
    second = Sandbox(SandboxConfig(seed=100))
    assert snapshot(first)[0] != snapshot(second)[0]


def test_same_seed_same_faults():
    faults = VucemFaults(http_503=0.3, html_502=0.2)
    outcomes = []
    for _ in range(2):
        config = SandboxConfig(
            seed=5, services=3, importers=1, default_mix=False, vucem=faults
        )
        with Sandbox(config) as sandbox:
            session = Client(sandbox)
            body = soap_request(**valid_query(sandbox))
            outcomes.append([session.vucem(body).status_code for _ in range(30)])
            session.close()
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {200, 502, 503}


def test_same_seed_same_reply_body():
    bodies = []
    for _ in range(2):
        config = SandboxConfig(seed=8, services=3, importers=1, default_mix=False)
        with Sandbox(config) as sandbox:
            session = Client(sandbox)
            content = session.vucem(soap_request(**valid_query(sandbox))).content
            session.close()
        bodies.append(content.split(b"<S:Body>")[1])
    assert bodies[0] == bodies[1]


def test_demo_mix_cases(mix_sandbox):
    cases = mix_sandbox.cases
    assert set(cases) >= {"wrong_key", "inactive_only", "unknown_to_vucem"}
    invalid = set(cases) & {"pedimento_6_digits", "patente_letter", "aduana_null"}
    assert 1 <= len(invalid) <= 2
    assert 2 <= len(cases["unknown_to_vucem"]) <= 5


def test_demo_mix_data(mix_sandbox):
    backend = mix_sandbox.backend
    for service_id in mix_sandbox.cases["unknown_to_vucem"]:
        pedimento = backend.services[service_id]["pedimento"]
        key = (pedimento["aduana"], pedimento["patente"], pedimento["pedimento"])
        assert mix_sandbox.vucem.record_for(*key) is None
    for service_id in mix_sandbox.cases["inactive_only"]:
        rfc = backend.services[service_id]["pedimento"]["contribuyente"]
        rows = backend.credentials_for(rfc)
        assert rows
        assert not any(row["is_active"] for row in rows)
    for service_id in mix_sandbox.cases["wrong_key"]:
        rfc = backend.services[service_id]["pedimento"]["contribuyente"]
        password = backend.credentials_for(rfc)[0]["password"]
        assert not mix_sandbox.vucem.check_credentials(rfc, password)


def test_demo_mix_default_faults():
    assert SandboxConfig().vucem == VucemFaults.demo()
    assert SandboxConfig(default_mix=False).vucem == VucemFaults()


def test_no_mix_all_valid():
    sandbox = Sandbox(SandboxConfig(services=40, importers=5, default_mix=False))
    assert sandbox.cases == {}
    assert len(sandbox.world.vucem_records) == 40
    for service in sandbox.backend.services.values():
        rfc = service["pedimento"]["contribuyente"]
        password = sandbox.backend.credentials_for(rfc)[0]["password"]
        assert sandbox.vucem.check_credentials(rfc, password)


def test_rfc_lengths():
    sandbox = Sandbox(SandboxConfig(importers=6))
    lengths = {len(importer.rfc) for importer in sandbox.world.importers}
    assert lengths == {12, 13}


def test_rejects_non_loopback():
    with pytest.raises(ValueError):
        Sandbox(SandboxConfig(), host="0.0.0.0")


def test_rejects_bad_share():
    with pytest.raises(ValueError):
        VucemFaults(http_503=1.5)
    with pytest.raises(ValueError):
        VucemFaults(http_503=0.6, drop=0.6)


def test_start_only_once(sandbox):
    with pytest.raises(RuntimeError):
        sandbox.start()


def test_urls_without_slash(sandbox):
    assert sandbox.api_url.startswith("http://127.0.0.1:")
    assert sandbox.api_url.endswith("/api/v1")
    assert not sandbox.vucem_url.endswith("/")
    assert sandbox.api_url.split(":")[2] != sandbox.vucem_url.split(":")[2]


def test_stop_closes_ports():
    sandbox = Sandbox(SandboxConfig(services=2, importers=1, default_mix=False)).start()
    url = sandbox.api_url
    sandbox.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + SERVICES_URL, timeout=2)
    sandbox.stop()


def test_stop_during_hang():
    faults = VucemFaults(hang_seconds=30)
    config = SandboxConfig(services=3, importers=1, default_mix=False, vucem=faults)
    sandbox = Sandbox(config).start()
    query = valid_query(sandbox)
    sandbox.vucem.script(query["pedimento"], ["hang"])
    errors = []

    def call() -> None:
        try:
            requests.post(
                sandbox.vucem_url
                + "/ventanilla-ws-pedimentos/ConsultarPedimentoCompletoService",
                data=soap_request(**query),
                timeout=60,
            )
        except requests.RequestException as error:
            errors.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 5
    while sandbox.vucem.request_count == 0 and time.monotonic() < deadline:
        time.sleep(0.01)

    started = time.monotonic()
    sandbox.stop()
    elapsed = time.monotonic() - started
    caller.join(5)
    assert elapsed < 3
    assert not caller.is_alive()
    assert len(errors) == 1


def test_stop_with_idle_keepalive(client, sandbox):
    assert client.get(SERVICES_URL).status_code == 200
    started = time.monotonic()
    sandbox.stop()
    assert time.monotonic() - started < 3


def test_concurrent_clients():
    config = SandboxConfig(seed=2, services=400, importers=4, default_mix=False)
    with Sandbox(config) as sandbox:
        query = valid_query(sandbox)

        def worker(index: int) -> list[int]:
            session = Client(sandbox)
            statuses = []
            for _ in range(10):
                statuses.append(
                    session.get(SERVICES_URL, params={"page": 1}).status_code
                )
                statuses.append(session.vucem(soap_request(**query)).status_code)
            session.close()
            return statuses

        with ThreadPoolExecutor(max_workers=32) as pool:
            results = [
                status for batch in pool.map(worker, range(32)) for status in batch
            ]
    assert results.count(200) == 640
    assert sandbox.vucem.request_count == 320
    assert sandbox.backend.request_counts["GET services"] == 320


def test_concurrent_updates():
    config = SandboxConfig(seed=4, services=200, importers=3, default_mix=False)
    with Sandbox(config) as sandbox:
        ids = sandbox.backend.pending_ids()

        def finish(service_id: int) -> int:
            service = sandbox.backend.services[service_id]
            body = {
                "estado": 3,
                "pedimento": service["pedimento"]["id"],
                "servicio": 3,
                "tipo_procesamiento": 1,
                "organizacion": service["organizacion"],
            }
            url = f"{sandbox.api_url}{SERVICES_URL}{service_id}/"
            headers = {"Authorization": f"Token {sandbox.api_token}"}
            return requests.put(url, json=body, headers=headers, timeout=10).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(finish, ids))
    assert statuses == [200] * 200
    assert sandbox.backend.pending_ids() == []
    assert sandbox.stats()["backend"]["services_by_estado"] == {"3": 200}
