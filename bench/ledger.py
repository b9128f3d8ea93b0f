"""Read the sandbox's state before and after a measurement and check the work.

A service counts as correctly processed when it was on the requested pages
at the start, ended done (or failed, when the case injects permanent
faults), got at most one uploaded document and cost exactly one VUCEM
request. It counts as skipped when it is still pending at the end, and as
done twice when it got two documents or two VUCEM requests.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlencode

from .procs import SandboxProcess

PENDING, FAILED, DONE = 1, 2, 3
SERVICE_TYPE = 3
# Largest page the sandbox backend serves; the bench lists in pages this big.
LIST_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Requested:
    """The services on the requested pages when the measurement started."""

    ids: list[int]
    number_by_id: dict[int, str]
    uuid_by_id: dict[int, str]


@dataclass(frozen=True)
class Tally:
    """Final state of the requested services, as the backend reports it."""

    requested: int
    done: int
    failed: int
    correct: int
    skipped: int
    done_twice: int
    # Services the run touched although they were not requested.
    outside: int


def list_all(sandbox: SandboxProcess, path: str, **filters) -> list[dict]:
    """Return every row of a paginated backend list, in the backend's order."""
    rows: list[dict] = []
    page = 1
    while True:
        query = urlencode({**filters, "page": page, "page_size": LIST_PAGE_SIZE})
        data = sandbox.get_json(f"{sandbox.api_url}/{path}?{query}")
        rows.extend(data["results"])
        if not data.get("next"):
            return rows
        page += 1


def read_requested(sandbox: SandboxProcess, *, pages: int, page_size: int) -> Requested:
    """Return the services on pages 1..``pages`` of the pending list right now."""
    pending = list_all(
        sandbox, "customs/procesamientopedimentos/", estado=PENDING, servicio=SERVICE_TYPE
    )
    chosen = pending[: pages * page_size]
    return Requested(
        ids=[row["id"] for row in chosen],
        number_by_id={row["id"]: row["pedimento"]["pedimento"] for row in chosen},
        uuid_by_id={row["id"]: row["pedimento"]["id"] for row in chosen},
    )


def tally(sandbox: SandboxProcess, requested: Requested, vucem_by_number: dict) -> Tally:
    """Compare the backend's final state with the requested services."""
    estado_of: dict[int, int] = {}
    for estado in (PENDING, FAILED, DONE):
        rows = list_all(
            sandbox, "customs/procesamientopedimentos/", estado=estado, servicio=SERVICE_TYPE
        )
        estado_of.update({row["id"]: estado for row in rows})
    documents = Counter(row["pedimento"] for row in list_all(sandbox, "record/documents/"))

    requested_ids = set(requested.ids)
    done = failed = correct = skipped = twice = 0
    for service_id in requested.ids:
        estado = estado_of.get(service_id)
        copies = documents[requested.uuid_by_id[service_id]]
        calls = vucem_by_number.get(requested.number_by_id[service_id], 0)
        if estado == PENDING:
            skipped += 1
            continue
        done += estado == DONE
        failed += estado == FAILED
        if copies > 1 or calls > 1:
            twice += 1
        elif calls == 1 and (estado == FAILED or copies == 1):
            correct += 1

    touched = {sid for sid, estado in estado_of.items() if estado != PENDING}
    return Tally(
        requested=len(requested.ids),
        done=done,
        failed=failed,
        correct=correct,
        skipped=skipped,
        done_twice=twice,
        outside=len(touched - requested_ids),
    )


def request_delta(before: dict, after: dict) -> dict:
    """Return the backend and VUCEM request counts made between two stats reads."""
    backend_before = Counter(before["backend"]["requests"])
    backend_after = Counter(after["backend"]["requests"])
    backend = backend_after - backend_before
    by_number = Counter(after["vucem"]["requests_by_pedimento"]) - Counter(
        before["vucem"]["requests_by_pedimento"]
    )
    return {
        "backend": dict(backend),
        "backend_total": sum(v for k, v in backend.items() if _is_request(k)),
        "pages": backend.get("GET services", 0),
        "credentials": backend.get("GET credentials", 0),
        "vucem_total": after["vucem"]["requests"] - before["vucem"]["requests"],
        "vucem_by_number": dict(by_number),
        "vucem_outcomes": dict(
            Counter(after["vucem"]["outcomes"]) - Counter(before["vucem"]["outcomes"])
        ),
    }


def _is_request(counter: str) -> bool:
    # "PUT service ok" and "injected ..." count again requests that already
    # have their own counter.
    return counter != "PUT service ok" and not counter.startswith("injected ")
