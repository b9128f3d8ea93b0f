"""Broken input costs one service, never the run."""

import pytest

from pedimentos.models import Run, ServiceOutcome
from pedimentos.runner import Progress
from pedimentos.sandbox import BackendFaults, VucemFaults
from tests.robustness.helpers import (
    DONE,
    FAILED,
    PENDING,
    assert_no_duplicate_documents,
    assert_outcomes_match_backend,
    assert_run_counts_match_backend,
    pedimento_of,
    run_pages,
)

pytestmark = pytest.mark.django_db(transaction=True)

# (case, fields of add_service, expected kind or None for success,
#  text expected in the error message)
FIELD_CASES = [
    ("pedimento null", {"pedimento": None}, "invalid_data", "Missing pedimento"),
    ("pedimento letters", {"pedimento": "50A1234"}, "invalid_data", "'50A1234'"),
    ("pedimento short", {"pedimento": "500123"}, "invalid_data", "'500123'"),
    ("pedimento long", {"pedimento": "50012345"}, "invalid_data", "'50012345'"),
    ("patente letters", {"patente": "34A0"}, "invalid_data", "'34A0'"),
    ("patente short", {"patente": "342"}, "invalid_data", "'342'"),
    ("patente null", {"patente": None}, "invalid_data", "Missing patente"),
    ("aduana letters", {"aduana": "AB0"}, "invalid_data", "'AB0'"),
    ("aduana one digit", {"aduana": "7"}, "invalid_data", "'7'"),
    ("aduana long", {"aduana": "1600"}, "invalid_data", "'1600'"),
    ("aduana null", {"aduana": None}, "invalid_data", "Missing aduana"),
    ("rfc null", {"contribuyente": None}, "invalid_data", "Missing RFC"),
    ("rfc malformed", {"contribuyente": "NOT-AN-RFC"}, "invalid_data", "'NOT-AN-RFC'"),
    (
        "15 digits wrong patente",
        {"pedimento": "25 16 9999 5001234", "patente": "3420"},
        "invalid_data",
        "9999",
    ),
    (
        "15 digits matching patente",
        {"pedimento": "25 16 3420 5001234", "patente": "3420", "aduana": "160",
         "vucem": False},
        None,
        "",
    ),
    ("rfc with ampersand", {"contribuyente": "A&B850101AB1"}, None, ""),
    ("rfc with enye", {"contribuyente": "AÑB850101AB2"}, None, ""),
]

# Scripted VUCEM replies: (case, script, expected kind or None, text).
REPLY_CASES = [
    ("doctype entity", ["doctype"], "invalid_reply", "DTD or entities"),
    ("billion laughs", ["billion"], "invalid_reply", "DTD or entities"),
    ("too large", ["huge"], "invalid_reply", "VUCEM_MAX_REPLY_BYTES"),
    ("truncated", ["truncated"] * 3, "transport", "probably truncated"),
    ("no root part", ["multipart_noroot"], "invalid_reply", "no root part"),
    ("html with 200", ["html200"] * 3, "transport", "HTML page"),
    ("empty body", ["empty"] * 3, "transport", "empty body"),
    ("latin-1 declared", ["latin1"], None, ""),
    ("mojibake", ["mojibake"], None, ""),
    ("multipart root", ["multipart"], None, ""),
]
MAX_REPLY_BYTES = 256 * 1024


def add_case(sandbox, fields):
    fields = dict(fields)
    # Without an RFC, add_service() picks any importer, even a broken one
    # that an earlier case added.
    fields.setdefault("contribuyente", sandbox.world.importers[0].rfc)
    known_to_vucem = fields.pop("vucem", True)
    service = sandbox.backend.add_service(vucem=known_to_vucem, **fields)
    if not known_to_vucem and fields.get("pedimento"):
        # Register the 7-digit number VUCEM is asked for.
        from pedimentos.sandbox.data import VucemRecord

        record = VucemRecord(
            aduana=fields["aduana"], patente=fields["patente"],
            pedimento=fields["pedimento"][-7:],
            rfc=service["pedimento"]["contribuyente"],
            importer_name="IMPORTADORA DE PRUEBA, S.A. DE C.V.",
            detail_seed="15-digit", padded=False,
        )
        sandbox.vucem.add_record(record)
    return service["id"]


def check_case(sandbox, outcome, name, kind, text):
    label = f"{name}: {outcome.status} {outcome.error_kind} {outcome.error_message}"
    state = sandbox.backend.state_of(outcome.service_id)
    if kind is None:
        assert outcome.status == ServiceOutcome.Status.SUCCEEDED, label
        assert state == DONE, label
        return
    assert outcome.status == ServiceOutcome.Status.FAILED, label
    assert outcome.error_kind == kind, label
    assert text in outcome.error_message, label
    assert state == FAILED, label


def test_invalid_fields_and_replies(make_sandbox):
    sandbox = make_sandbox(
        services=4, importers=2, seed=71,
        vucem=VucemFaults(huge_bytes=2 * MAX_REPLY_BYTES),
    )
    expected = {}
    for name, fields, kind, text in FIELD_CASES:
        expected[add_case(sandbox, fields)] = (name, kind, text)
    for name, script, kind, text in REPLY_CASES:
        service_id = add_case(sandbox, {})
        sandbox.vucem.script(pedimento_of(sandbox, service_id), script)
        expected[service_id] = (name, kind, text)
    total = len(sandbox.backend.services)
    pages = -(-total // 10)

    result = run_pages(
        sandbox, 1, pages, workers=3, vucem_max_reply_bytes=MAX_REPLY_BYTES
    )

    run = result.run
    assert run.status == Run.Status.COMPLETED
    assert run.outcomes.count() == total
    outcomes = {o.service_id: o for o in run.outcomes.all()}
    for service_id, (name, kind, text) in expected.items():
        check_case(sandbox, outcomes[service_id], name, kind, text)
    for service_id, outcome in outcomes.items():
        if service_id not in expected:
            assert outcome.status == ServiceOutcome.Status.SUCCEEDED
        if outcome.error_kind == "invalid_data":
            pedimento = sandbox.backend.services[service_id]["pedimento"]["pedimento"]
            assert sandbox.vucem.requests_by_pedimento.get(pedimento, 0) == 0
        if outcome.error_kind == "invalid_reply":
            assert outcome.attempts == 1
            assert outcome.document_id == ""
    # Nothing of an entity was expanded or uploaded.
    for document in sandbox.backend.documents:
        assert b"lollol" not in document["content"]
        assert b"root:" not in document["content"]
    assert_no_duplicate_documents(sandbox)
    assert_run_counts_match_backend(run, sandbox)
    assert_outcomes_match_backend(sandbox, list(outcomes))


def test_missing_pedimento_object(make_sandbox):
    sandbox = make_sandbox(services=3, importers=1, seed=72)
    broken = add_case(sandbox, {})
    service = dict(sandbox.backend.services[broken])
    service["pedimento"] = None
    sandbox.backend.services[broken] = service

    result = run_pages(sandbox, 1, 1)

    outcome = result.run.outcomes.get(service_id=broken)
    assert outcome.status == ServiceOutcome.Status.FAILED
    assert outcome.error_kind == "invalid_data"
    assert "pedimento.id" in outcome.error_message
    # The backend refuses a state without a pedimento, so it stays pending.
    assert not outcome.backend_updated
    assert sandbox.backend.state_of(broken) == PENDING
    assert result.run.succeeded == 3
    assert sandbox.vucem.request_count == 3


@pytest.mark.parametrize(
    "name, rows, kind, text",
    [
        ("missing", [], "no_credentials", "no entry"),
        ("inactive", [{"password": "Inactive-key-001", "is_active": False}],
         "no_credentials", "only inactive"),
        ("two keys", [{"password": "First-key-0001"}, {"password": "Other-key-0002"}],
         "no_credentials", "different keys"),
        ("two equal", [{"password": "Same-key-00001"}, {"password": "Same-key-00001"}],
         None, ""),
        ("xml special key", [{"password": "a<b&c\"d'e>]]>f"}], None, ""),
    ],
)
def test_credentials_cases(make_sandbox, name, rows, kind, text):
    sandbox = make_sandbox(services=3, importers=1, seed=73)
    rfc = "CRD850101AB1"
    service_id = add_case(sandbox, {"contribuyente": rfc})
    sandbox.backend.set_credentials(rfc, rows)
    if rows:
        sandbox.vucem.set_credentials(rfc, rows[0]["password"])

    result = run_pages(sandbox, 1, 1)

    check_case(sandbox, result.run.outcomes.get(service_id=service_id), name, kind, text)
    assert result.run.succeeded == 3 + (kind is None)
    if kind is not None:
        assert sandbox.vucem.requests_by_pedimento[pedimento_of(sandbox, service_id)] == 0


def test_page_of_wrong_shape_skipped(make_sandbox):
    sandbox = make_sandbox(
        services=30, importers=2, seed=74, backend=BackendFaults(invalid_page=2)
    )
    pending = sandbox.backend.pending_ids()

    result = run_pages(sandbox, 1, 3)

    run = result.run
    assert run.status == Run.Status.COMPLETED
    assert "Page 2" in run.message
    assert "results" in run.message
    assert run.succeeded == 20
    processed = set(run.outcomes.values_list("service_id", flat=True))
    assert processed == set(pending[:10]) | set(pending[20:30])
    assert all(sandbox.backend.state_of(i) == PENDING for i in pending[10:20])


@pytest.mark.parametrize("status", [403, 404])
def test_backend_refuses_one_service(make_sandbox, status):
    sandbox = make_sandbox(services=10, importers=2, seed=75)
    refused = sandbox.backend.pending_ids()[3]

    def refuse(total):
        if status == 404:
            sandbox.backend.services.pop(refused)
        else:
            sandbox.backend.refused_updates[refused] = 403

    result = run_pages(sandbox, 1, 1, progress=Progress(snapshot_taken=refuse))

    run = result.run
    assert run.status == Run.Status.COMPLETED
    assert run.succeeded == 9
    outcome = run.outcomes.get(service_id=refused)
    assert outcome.status == ServiceOutcome.Status.FAILED
    assert outcome.error_kind == "update_failed"
    assert f"HTTP {status}" in outcome.error_message
    assert not outcome.backend_updated


def test_token_revoked_mid_run_aborts(make_sandbox):
    sandbox = make_sandbox(services=10, importers=2, seed=76)
    pending = sandbox.backend.pending_ids()
    recorded = []

    def revoke(outcome):
        recorded.append(outcome.service_id)
        sandbox.backend.api_token = "another-token-value"

    result = run_pages(sandbox, 1, 1, workers=1, progress=Progress(outcome_recorded=revoke))

    run = result.run
    assert run.status == Run.Status.ABORTED
    assert "API_TOKEN" in run.message
    assert run.succeeded == 1
    assert run.failed == 0
    assert sandbox.backend.state_of(recorded[0]) == DONE
    for service_id in pending:
        if service_id != recorded[0]:
            assert sandbox.backend.state_of(service_id) == PENDING
    assert sandbox.backend.request_counts["PUT service ok"] == 1
    assert len(sandbox.backend.documents) == 1
