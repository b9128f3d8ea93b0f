"""State of the simulated backend API: services, credentials and documents.

Writes are validated the way Django REST Framework validates them, with
DRF's error texts ("This field is required.", 'Invalid pk "…" - object does
not exist.'). Everything is kept in memory behind one lock. The HTTP side
is in ``backend_api``.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import random
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from .config import SandboxConfig
from .data import (
    ADUANAS,
    FIRST_SERVICE_ID,
    PENDING,
    SERVICE_TYPE,
    Importer,
    VucemRecord,
    World,
    make_pedimento,
    make_service,
    new_password,
)

logger = logging.getLogger(__name__)

VALID_ESTADOS = (1, 2, 3, 4)

SERVICE_NOT_FOUND = "No ProcesamientoPedimento matches the given query."
REQUIRED = "This field is required."
NOT_INTEGER = "A valid integer is required."

_DIGITS = re.compile(r"^-?\d+$")

# Fields of add_service() that go into the service itself; every other
# override goes into the nested pedimento dict.
_SERVICE_FIELDS = ("estado", "servicio", "tipo_procesamiento", "organizacion")
_PEDIMENTO_FIELDS = (
    "pedimento",
    "aduana",
    "patente",
    "contribuyente",
    "numero_operacion",
    "numero_partidas",
    "remesas",
    "tipo_operacion",
    "curp_apoderado",
    "agente_aduanal",
)


def now_text() -> str:
    """Return the current UTC time in DRF's datetime format."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_int(value) -> int | None:
    """Return ``value`` as an int the way DRF's IntegerField accepts it, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _DIGITS.match(value.strip()):
        return int(value.strip())
    return None


def parse_uuid(value) -> str | None:
    """Return the canonical text of a UUID, or None if ``value`` is not one."""
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def invalid_pk(value) -> str:
    return f'Invalid pk "{value}" - object does not exist.'


class SimulatedBackend:
    """In-memory state of the simulated backend API.

    Reads of ``services``, ``documents`` and ``request_counts`` need no lock:
    a PUT replaces a service dict instead of changing it, so a reader sees
    either the old or the new version.
    """

    def __init__(
        self,
        world: World,
        config: SandboxConfig,
        *,
        register_pedimento: Callable[[VucemRecord], None],
        register_importer: Callable[[Importer], None],
    ):
        self._lock = threading.RLock()
        self._world = world
        self.faults = config.backend
        self._fault_rng = random.Random(f"{config.seed}:backend")
        self._register_pedimento = register_pedimento
        self._register_importer = register_importer
        self.api_token = config.api_token
        self.organizacion = world.organizacion

        self.services: dict[int, dict] = {}
        self.documents: list[dict] = []
        self.request_counts: Counter = Counter()
        self.on_update: Callable[[int, int], None] | None = None
        self.down = False
        # Service id -> HTTP status (such as 403) that every PUT of that
        # service gets instead of being applied.
        self.refused_updates: dict[int, int] = {}

        # Ids per (estado, servicio), ascending, for fast paginated listing.
        self._index: dict[tuple[int, int], list[int]] = {}
        self._pedimento_ids: set[str] = set()
        self._documents_by_pedimento: dict[str, list[dict]] = {}
        # RFC -> credential rows as the API returns them. Change it only
        # through set_credentials().
        self.credentials: dict[str, list[dict]] = {}
        self._importers = {importer.rfc: importer for importer in world.importers}
        self._next_service_id = FIRST_SERVICE_ID
        self._next_document_id = 1
        self._next_credential_id = 1

        for importer in world.importers:
            self.set_credentials(importer.rfc, importer.backend_credentials)
        for service in world.services:
            self._insert(service)

    # --- public state API ---------------------------------------------------

    def pending_ids(self, service_type: int = SERVICE_TYPE) -> list[int]:
        """Return the ids of pending services of a type, newest first."""
        with self._lock:
            return self._index.get((PENDING, service_type), [])[::-1]

    def state_of(self, service_id: int) -> int:
        """Return the estado of a service; KeyError if the id is unknown."""
        return self.services[service_id]["estado"]

    def set_down(self, down: bool) -> None:
        """Make every request fail (see ``BackendFaults.down_mode``) while True."""
        self.down = down
        logger.info("Sandbox backend is %s", "down" if down else "up")

    def set_credentials(self, rfc: str, rows: list[dict]) -> None:
        """Replace the credential rows returned for ``rfc``.

        Each row needs ``password``; ``usuario`` defaults to ``rfc``,
        ``patente`` to the first seeded patente and ``is_active`` to True.
        """
        with self._lock:
            stored = []
            for row in rows:
                stored.append(
                    {
                        "id": self._next_credential_id,
                        "usuario": row.get("usuario", rfc),
                        "password": row["password"],
                        "patente": row.get("patente", self._world.patentes[0]),
                        "is_active": bool(row.get("is_active", True)),
                        "is_importador": bool(row.get("is_importador", True)),
                        "organizacion": row.get("organizacion", self.organizacion),
                    }
                )
                self._next_credential_id += 1
            self.credentials[rfc] = stored

    def credentials_for(self, rfc: str | None) -> list[dict]:
        """Return copies of the credential rows of ``rfc``, or of all RFCs if None."""
        with self._lock:
            if rfc is None:
                rows = [row for stored in self.credentials.values() for row in stored]
            else:
                rows = self.credentials.get(rfc, [])
            return [dict(row) for row in rows]

    def add_service(self, **overrides) -> dict:
        """Add a pending service of type 3 as the newest one and return it.

        ``overrides`` may set service fields (estado, servicio,
        tipo_procesamiento, organizacion), pedimento fields (pedimento,
        aduana, patente, contribuyente or its alias ``rfc``, ...) and
        ``vucem`` (default True: the simulated VUCEM stores the pedimento).
        An RFC that no importer has gets valid credentials in both servers.
        """
        if "rfc" in overrides:
            overrides["contribuyente"] = overrides.pop("rfc")
        known_to_vucem = overrides.pop("vucem", True)
        unknown = set(overrides) - set(_SERVICE_FIELDS) - set(_PEDIMENTO_FIELDS)
        if unknown:
            raise TypeError(f"add_service() got unknown fields: {sorted(unknown)}")

        with self._lock:
            rng = self._world.rng
            valid = [imp for imp in self._world.importers if not imp.case]
            rfc = (
                overrides.get("contribuyente")
                or rng.choice(valid or self._world.importers).rfc
            )
            importer = self._importers.get(rfc) or self._new_importer(rfc)
            if "pedimento" in overrides:
                number = overrides["pedimento"]
                if number:
                    self._world.numbers.reserve(number)
            else:
                number = self._world.numbers.take()
            pedimento = make_pedimento(
                rng,
                organizacion=self.organizacion,
                number=number,
                aduana=rng.choice(sorted(ADUANAS)),
                patente=rng.choice(self._world.patentes),
                rfc=rfc,
            )
            pedimento.update(
                {k: v for k, v in overrides.items() if k in _PEDIMENTO_FIELDS}
            )
            fields = {k: v for k, v in overrides.items() if k in _SERVICE_FIELDS}
            service = make_service(
                service_id=self._next_service_id,
                organizacion=fields.pop("organizacion", self.organizacion),
                pedimento=pedimento,
                **fields,
            )
            service["created_at"] = service["updated_at"] = now_text()
            self._insert(service)

        if known_to_vucem and all(
            pedimento[k] for k in ("aduana", "patente", "pedimento")
        ):
            self._register_pedimento(
                VucemRecord(
                    aduana=pedimento["aduana"],
                    patente=pedimento["patente"],
                    pedimento=pedimento["pedimento"],
                    rfc=rfc,
                    importer_name=importer.name,
                    detail_seed=f"added:{pedimento['pedimento']}",
                    padded=False,
                )
            )
        return service

    def stats(self) -> dict:
        """Return request counts and service totals as a JSON-able dict."""
        with self._lock:
            by_estado = Counter(service["estado"] for service in self.services.values())
            return {
                "requests": dict(self.request_counts),
                "services": len(self.services),
                "services_by_estado": {str(k): v for k, v in sorted(by_estado.items())},
                "documents": len(self.documents),
            }

    # --- internal state changes ---------------------------------------------

    def _new_importer(self, rfc: str) -> Importer:
        importer = Importer(
            rfc=rfc,
            name="IMPORTADOR AGREGADO EN PRUEBAS, S.A. DE C.V.",
            vucem_password=new_password(self._world.rng),
        )
        importer.backend_credentials = [{"password": importer.vucem_password}]
        self._importers[rfc] = importer
        self._world.importers.append(importer)
        self.set_credentials(rfc, importer.backend_credentials)
        self._register_importer(importer)
        return importer

    def _insert(self, service: dict) -> None:
        service_id = service["id"]
        self.services[service_id] = service
        self._next_service_id = max(self._next_service_id, service_id + 1)
        self._index_add(service)
        self._pedimento_ids.add(service["pedimento"]["id"])

    def _index_add(self, service: dict) -> None:
        key = (service["estado"], service["servicio"])
        bisect.insort(self._index.setdefault(key, []), service["id"])

    def _index_remove(self, service: dict) -> None:
        ids = self._index.get((service["estado"], service["servicio"]), [])
        position = bisect.bisect_left(ids, service["id"])
        if position < len(ids) and ids[position] == service["id"]:
            del ids[position]

    def inject_fault(self, share: float) -> bool:
        """Return True if a request with this 5xx share must fail now."""
        if share <= 0:
            return False
        with self._lock:
            return self._fault_rng.random() < share

    def list_services(
        self, filters: dict
    ) -> tuple[int, Callable[[int, int], list[dict]]]:
        """Return (count, slice function) of services matching ``filters``."""
        estado = filters.get("estado")
        servicio = filters.get("servicio")
        pedimento = filters.get("pedimento")
        with self._lock:
            if estado is not None and servicio is not None and pedimento is None:
                ascending = list(self._index.get((estado, servicio), []))
                services = self.services
                count = len(ascending)

                def page_slice(start: int, stop: int) -> list[dict]:
                    high = max(0, count - start)
                    low = max(0, count - stop)
                    return [services[i] for i in reversed(ascending[low:high])]

                return count, page_slice

            matches = [
                service
                for _, service in sorted(self.services.items(), reverse=True)
                if (estado is None or service["estado"] == estado)
                and (servicio is None or service["servicio"] == servicio)
                and (pedimento is None or service["pedimento"]["id"] == pedimento)
            ]
        return len(matches), lambda start, stop: matches[start:stop]

    def update_service(self, service_id: int, data: dict) -> tuple[int, dict]:
        """Validate a PUT body like DRF and apply it; return (status, payload)."""
        with self._lock:
            service = self.services.get(service_id)
            if service is None:
                return 404, {"detail": SERVICE_NOT_FOUND}
            errors, values = self._validate_update(service, data)
            if errors:
                return 400, errors

            updated = dict(service)
            updated.update(values)
            updated["updated_at"] = now_text()
            self._index_remove(service)
            self.services[service_id] = updated
            self._index_add(updated)
        return 200, updated

    def _validate_update(self, service: dict, data: dict) -> tuple[dict, dict]:
        errors: dict[str, list[str]] = {}
        values: dict = {}
        for name in (
            "estado",
            "pedimento",
            "servicio",
            "tipo_procesamiento",
            "organizacion",
        ):
            if name not in data:
                errors[name] = [REQUIRED]
            elif data[name] is None:
                errors[name] = ["This field may not be null."]
        for name in ("estado", "servicio", "tipo_procesamiento"):
            if name in errors:
                continue
            number = parse_int(data[name])
            if number is None:
                errors[name] = [NOT_INTEGER]
            elif name == "estado" and number not in VALID_ESTADOS:
                errors[name] = [f'"{data[name]}" is not a valid choice.']
            else:
                values[name] = number
        if "pedimento" not in errors:
            pedimento_id = parse_uuid(data["pedimento"])
            if pedimento_id is None or pedimento_id not in self._pedimento_ids:
                errors["pedimento"] = [invalid_pk(data["pedimento"])]
            elif pedimento_id != service["pedimento"]["id"]:
                message = f"Pedimento {pedimento_id} is not the pedimento of service"
                errors["pedimento"] = [f"{message} {service['id']}."]
        if "organizacion" not in errors:
            if parse_uuid(data["organizacion"]) != self.organizacion:
                errors["organizacion"] = [invalid_pk(data["organizacion"])]
        return errors, values

    def add_document(
        self, fields: dict, file: tuple[str, bytes] | None
    ) -> tuple[int, dict]:
        """Validate an upload like DRF and store it; return (status, payload)."""
        errors: dict[str, list[str]] = {}
        if file is None:
            errors["archivo"] = ["No file was submitted."]
        elif not file[1]:
            errors["archivo"] = ["The submitted file is empty."]
        for name in ("organizacion", "pedimento", "extension", "document_type", "size"):
            if not fields.get(name):
                errors[name] = [REQUIRED]

        document_type = parse_int(fields.get("document_type"))
        size = parse_int(fields.get("size"))
        if "document_type" not in errors and document_type is None:
            errors["document_type"] = [NOT_INTEGER]
        if "size" not in errors:
            if size is None:
                errors["size"] = [NOT_INTEGER]
            elif file is not None and size != len(file[1]):
                actual = len(file[1])
                errors["size"] = [
                    f"Size {size} differs from the file's {actual} bytes."
                ]

        with self._lock:
            pedimento_id = parse_uuid(fields.get("pedimento"))
            if "pedimento" not in errors and pedimento_id not in self._pedimento_ids:
                errors["pedimento"] = [invalid_pk(fields["pedimento"])]
            if "organizacion" not in errors:
                if parse_uuid(fields["organizacion"]) != self.organizacion:
                    errors["organizacion"] = [invalid_pk(fields["organizacion"])]
            if errors:
                return 400, errors

            filename, content = file
            document = {
                "id": self._next_document_id,
                "pedimento": pedimento_id,
                "organizacion": self.organizacion,
                "document_type": document_type,
                "extension": fields["extension"],
                "size": size,
                "filename": filename,
                "sha256": hashlib.sha256(content).hexdigest(),
                "content": content,
                "created_at": now_text(),
            }
            self._next_document_id += 1
            self.documents.append(document)
            self._documents_by_pedimento.setdefault(pedimento_id, []).append(document)
        return 201, document

    def list_documents(
        self, filters: dict
    ) -> tuple[int, Callable[[int, int], list[dict]]]:
        pedimento = filters.get("pedimento")
        document_type = filters.get("document_type")
        with self._lock:
            if pedimento is not None:
                candidates = list(self._documents_by_pedimento.get(pedimento, []))
            else:
                candidates = list(self.documents)
        matches = [
            document
            for document in reversed(candidates)
            if document_type is None or document["document_type"] == document_type
        ]
        return len(matches), lambda start, stop: matches[start:stop]
