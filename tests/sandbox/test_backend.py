"""Tests of the simulated backend API over loopback HTTP."""

from __future__ import annotations

import hashlib

import pytest
import requests

from pedimentos.sandbox import BackendFaults, Sandbox, SandboxConfig

from .conftest import SERVICES_URL, Client

DOCUMENTS_URL = "/record/documents/"


def service_put_body(service: dict, **changes) -> dict:
    body = {
        "estado": 3,
        "pedimento": service["pedimento"]["id"],
        "servicio": service["servicio"],
        "tipo_procesamiento": service["tipo_procesamiento"],
        "organizacion": service["organizacion"],
    }
    body.update(changes)
    return body


def upload(
    client: Client, service: dict, content: bytes, **changes
) -> requests.Response:
    fields = {
        "organizacion": service["organizacion"],
        "pedimento": service["pedimento"]["id"],
        "extension": "xml",
        "document_type": "2",
        "size": str(len(content)),
    }
    fields.update(changes)
    files = {"archivo": ("vu_PC_2_160_3420_5006792.xml", content, "application/xml")}
    return client.post(DOCUMENTS_URL, data=fields, files=files)


# --- authentication and routing ---------------------------------------------


def test_api_missing_token(sandbox):
    response = requests.get(sandbox.api_url + SERVICES_URL, timeout=5)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_api_wrong_token(sandbox):
    for path in (SERVICES_URL, "/vucem/vucem/", DOCUMENTS_URL, "/unknown/"):
        response = requests.get(
            sandbox.api_url + path, headers={"Authorization": "Token nope"}, timeout=5
        )
        assert response.status_code == 401, path
        assert response.json() == {"detail": "Invalid token."}


def test_api_unknown_path(client):
    response = client.get("/customs/unknown/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_api_wrong_method(client):
    response = client.api.delete(client.sandbox.api_url + SERVICES_URL, timeout=5)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert "not allowed" in response.json()["detail"]


# --- service list ------------------------------------------------------------


def test_list_newest_first(client, sandbox):
    response = client.get(
        SERVICES_URL, params={"estado": 1, "servicio": 3, "page_size": 50}
    )
    assert response.status_code == 200
    ids = [service["id"] for service in response.json()["results"]]
    assert ids == sorted(ids, reverse=True)
    assert ids[0] == max(sandbox.backend.services)
    assert ids == sandbox.backend.pending_ids(3)


def test_list_pagination_links(client):
    params = {"estado": 1, "servicio": 3, "page_size": 7}
    first = client.get(SERVICES_URL, params=params).json()
    assert first["count"] == 30
    assert first["previous"] is None
    assert len(first["results"]) == 7

    second = requests.get(first["next"], headers=client.api.headers, timeout=5).json()
    assert "page=2" in first["next"]
    assert first["next"].startswith(client.sandbox.api_url)
    assert second["results"][0]["id"] == first["results"][-1]["id"] - 1
    assert "page=" not in second["previous"]

    last = client.get(SERVICES_URL, params={**params, "page": 5}).json()
    assert len(last["results"]) == 2
    assert last["next"] is None


def test_list_page_past_end(client):
    response = client.get(SERVICES_URL, params={"page": 6, "page_size": 7})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}


@pytest.mark.parametrize("page", ["0", "-1", "abc"])
def test_list_invalid_page(client, page):
    response = client.get(SERVICES_URL, params={"page": page})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}


def test_list_empty_first_page(client):
    response = client.get(SERVICES_URL, params={"estado": 4, "page": 1})
    assert response.status_code == 200
    assert response.json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }


def test_list_page_size_capped():
    config = SandboxConfig(seed=3, services=1200, importers=3, default_mix=False)
    with Sandbox(config) as big:
        session = Client(big)
        response = session.get(SERVICES_URL, params={"page_size": 5000})
        session.close()
    assert len(response.json()["results"]) == 1000
    assert "page=2" in response.json()["next"]


def test_list_filters(client, sandbox):
    target = sandbox.backend.services[110]
    response = client.get(SERVICES_URL, params={"pedimento": target["pedimento"]["id"]})
    assert [service["id"] for service in response.json()["results"]] == [110]

    response = client.get(SERVICES_URL, params={"servicio": 4})
    assert response.json()["count"] == 0

    response = client.get(SERVICES_URL, params={"estado": "x"})
    assert response.status_code == 400
    assert "estado" in response.json()


def test_list_filter_follows_updates(client, sandbox):
    service = sandbox.backend.services[115]
    client.put(f"{SERVICES_URL}115/", json=service_put_body(service, estado=3))
    pending = client.get(SERVICES_URL, params={"estado": 1, "page_size": 100}).json()
    done = client.get(SERVICES_URL, params={"estado": 3}).json()
    assert 115 not in [item["id"] for item in pending["results"]]
    assert pending["count"] == 29
    assert [item["id"] for item in done["results"]] == [115]


# --- service detail and update -------------------------------------------------


def test_get_service(client, sandbox):
    response = client.get(f"{SERVICES_URL}101/")
    assert response.status_code == 200
    assert response.json() == sandbox.backend.services[101]
    assert client.get(f"{SERVICES_URL}99999/").status_code == 404


def test_service_shape(client):
    service = client.get(f"{SERVICES_URL}101/").json()
    assert set(service) >= {
        "id",
        "estado",
        "servicio",
        "tipo_procesamiento",
        "organizacion",
    }
    pedimento = service["pedimento"]
    assert len(pedimento["pedimento"]) == 7
    assert len(pedimento["aduana"]) == 3
    assert len(pedimento["patente"]) == 4
    assert len(pedimento["contribuyente"]) in (12, 13)
    assert pedimento["numero_operacion"] is None


def test_put_updates_state(client, sandbox):
    service = sandbox.backend.services[101]
    response = client.put(
        f"{SERVICES_URL}101/", json=service_put_body(service, estado=3)
    )
    assert response.status_code == 200
    assert response.json()["estado"] == 3
    assert sandbox.backend.state_of(101) == 3
    assert sandbox.backend.request_counts["PUT service"] == 1


def test_put_missing_field(client, sandbox):
    body = service_put_body(sandbox.backend.services[101])
    del body["servicio"]
    del body["organizacion"]
    response = client.put(f"{SERVICES_URL}101/", json=body)
    assert response.status_code == 400
    assert response.json() == {
        "servicio": ["This field is required."],
        "organizacion": ["This field is required."],
    }
    assert sandbox.backend.state_of(101) == 1


@pytest.mark.parametrize("estado", [7, "x", None, True])
def test_put_invalid_estado(client, sandbox, estado):
    body = service_put_body(sandbox.backend.services[101], estado=estado)
    response = client.put(f"{SERVICES_URL}101/", json=body)
    assert response.status_code == 400
    assert list(response.json()) == ["estado"]
    assert sandbox.backend.state_of(101) == 1


def test_put_other_pedimento(client, sandbox):
    other = sandbox.backend.services[102]["pedimento"]["id"]
    body = service_put_body(sandbox.backend.services[101], pedimento=other)
    response = client.put(f"{SERVICES_URL}101/", json=body)
    assert response.status_code == 400
    assert "pedimento" in response.json()


def test_put_not_uuid(client, sandbox):
    body = service_put_body(sandbox.backend.services[101], pedimento="not-a-uuid")
    response = client.put(f"{SERVICES_URL}101/", json=body)
    assert response.status_code == 400
    assert response.json()["pedimento"] == [
        'Invalid pk "not-a-uuid" - object does not exist.'
    ]


def test_put_unknown_service(client, sandbox):
    body = service_put_body(sandbox.backend.services[101])
    assert client.put(f"{SERVICES_URL}5000/", json=body).status_code == 404


def test_put_bad_json(client):
    response = client.put(
        f"{SERVICES_URL}101/", data=b"{", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_put_runs_hook(client, sandbox):
    calls = []

    def add_one(service_id, estado):
        calls.append((service_id, estado))
        sandbox.backend.add_service()

    sandbox.backend.on_update = add_one
    body = service_put_body(sandbox.backend.services[101], estado=2)
    client.put(f"{SERVICES_URL}101/", json=body)
    assert calls == [(101, 2)]
    assert max(sandbox.backend.services) == 131
    assert sandbox.backend.pending_ids()[0] == 131


# --- add_service -----------------------------------------------------------------


def test_add_service_overrides(sandbox):
    service = sandbox.backend.add_service(
        pedimento="5999999", aduana="070", rfc="A&Ñ010101AB1"
    )
    assert service["id"] == 131
    assert service["pedimento"]["pedimento"] == "5999999"
    assert service["pedimento"]["aduana"] == "070"
    assert service["pedimento"]["contribuyente"] == "A&Ñ010101AB1"
    assert sandbox.vucem.record_for("070", service["pedimento"]["patente"], "5999999")
    assert sandbox.backend.credentials_for("A&Ñ010101AB1")[0]["is_active"] is True


def test_add_service_null_aduana(sandbox):
    service = sandbox.backend.add_service(aduana=None)
    assert service["pedimento"]["aduana"] is None


def test_add_service_unknown_field(sandbox):
    with pytest.raises(TypeError):
        sandbox.backend.add_service(colour="blue")


# --- credentials -------------------------------------------------------------------


def test_credentials_special_rfc(client, sandbox):
    for importer in sandbox.world.importers[:2]:
        response = client.get("/vucem/vucem/", params={"usuario": importer.rfc})
        assert response.status_code == 200
        rows = response.json()
        assert len(rows) == 1
        assert rows[0]["usuario"] == importer.rfc
        assert rows[0]["password"] == importer.vucem_password
        assert set(rows[0]) == {
            "id",
            "usuario",
            "password",
            "patente",
            "is_active",
            "is_importador",
            "organizacion",
        }
    assert "&" in sandbox.world.importers[0].rfc
    assert "Ñ" in sandbox.world.importers[1].rfc


def test_credentials_exact_match(client, sandbox):
    rfc = sandbox.world.importers[0].rfc
    response = client.get("/vucem/vucem/", params={"usuario": rfc[:-1]})
    assert response.json() == []


def test_credentials_set(client, sandbox):
    sandbox.backend.set_credentials(
        "XYZ010101AAA", [{"password": "k", "is_active": False}]
    )
    rows = client.get("/vucem/vucem/", params={"usuario": "XYZ010101AAA"}).json()
    assert rows[0]["is_active"] is False
    assert rows[0]["password"] == "k"


# --- documents -----------------------------------------------------------------


def test_upload_document(client, sandbox):
    service = sandbox.backend.services[101]
    content = b"<?xml version='1.0'?>\r\n<a>\x00\xff binary \xc3\xb1</a>\r\n"
    response = upload(client, service, content)
    assert response.status_code == 201, response.text
    payload = response.json()
    assert payload["id"] == 1
    assert payload["size"] == len(content)
    assert payload["document_type"] == 2
    assert payload["archivo"].endswith("vu_PC_2_160_3420_5006792.xml")

    stored = sandbox.backend.documents[0]
    assert stored["content"] == content
    assert stored["sha256"] == hashlib.sha256(content).hexdigest()
    assert stored["pedimento"] == service["pedimento"]["id"]
    assert sandbox.backend.request_counts["POST document"] == 1


def test_upload_size_mismatch(client, sandbox):
    response = upload(client, sandbox.backend.services[101], b"abc", size="4")
    assert response.status_code == 400
    assert list(response.json()) == ["size"]
    assert sandbox.backend.documents == []


def test_upload_bad_fields(client, sandbox):
    service = sandbox.backend.services[101]
    response = upload(client, service, b"abc", document_type="two", pedimento="x")
    assert response.status_code == 400
    assert set(response.json()) == {"document_type", "pedimento"}


def test_upload_unknown_pedimento(client, sandbox):
    service = sandbox.backend.services[101]
    unknown = "00000000-0000-4000-8000-000000000000"
    response = upload(client, service, b"abc", pedimento=unknown)
    assert response.status_code == 400
    assert "pedimento" in response.json()


def test_upload_without_file(client, sandbox):
    service = sandbox.backend.services[101]
    response = client.post(
        DOCUMENTS_URL,
        data={
            "organizacion": service["organizacion"],
            "pedimento": service["pedimento"]["id"],
        },
    )
    assert response.status_code == 400
    assert response.json()["archivo"] == ["No file was submitted."]


def test_list_documents(client, sandbox):
    first, second = sandbox.backend.services[101], sandbox.backend.services[102]
    upload(client, first, b"one")
    upload(client, second, b"two")
    upload(client, first, b"three", document_type="5")
    response = client.get(
        DOCUMENTS_URL,
        params={"pedimento": first["pedimento"]["id"], "document_type": 2},
    )
    assert response.status_code == 200
    payload = response.json()
    assert payload["count"] == 1
    assert payload["results"][0]["size"] == 3
    assert "content" not in payload["results"][0]
    assert client.get(DOCUMENTS_URL).json()["count"] == 3


# --- faults, down mode and stats -------------------------------------------------


def test_backend_down_503(client, sandbox):
    sandbox.backend.set_down(True)
    assert client.get(SERVICES_URL).status_code == 503
    sandbox.backend.set_down(False)
    assert client.get(SERVICES_URL).status_code == 200
    assert sandbox.backend.request_counts["down"] == 1


def test_backend_down_close():
    config = SandboxConfig(
        services=3,
        importers=1,
        default_mix=False,
        backend=BackendFaults(down_mode="close"),
    )
    with Sandbox(config) as sandbox:
        session = Client(sandbox)
        sandbox.backend.set_down(True)
        with pytest.raises(requests.ConnectionError):
            session.get(SERVICES_URL)
        session.close()


def test_backend_injected_5xx():
    faults = BackendFaults(page_5xx=1.0, update_5xx=1.0, upload_5xx=1.0)
    config = SandboxConfig(services=3, importers=1, default_mix=False, backend=faults)
    with Sandbox(config) as sandbox:
        session = Client(sandbox)
        service = sandbox.backend.services[101]
        assert session.get(SERVICES_URL).status_code == 500
        put = session.put(f"{SERVICES_URL}101/", json=service_put_body(service))
        assert put.status_code == 500
        assert upload(session, service, b"abc").status_code == 500
        session.close()
        assert sandbox.backend.state_of(101) == 1
        assert sandbox.backend.documents == []


def test_stats_endpoint(client, sandbox):
    client.get(SERVICES_URL)
    response = requests.get(
        sandbox.api_url.replace("/api/v1", "/_sandbox/stats"),
        headers=client.api.headers,
        timeout=5,
    )
    assert response.status_code == 200
    stats = response.json()
    assert stats["backend"]["requests"]["GET services"] == 1
    assert stats["backend"]["services"] == 30
    assert stats["vucem"]["requests"] == 0


def test_stats_requires_token(sandbox):
    url = sandbox.api_url.replace("/api/v1", "/_sandbox/stats")
    assert requests.get(url, timeout=5).status_code == 401
