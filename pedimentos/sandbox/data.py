"""Seeded data of the sandbox: importers, credentials, services and pedimentos.

Everything here comes from one ``random.Random(seed)``, so the same
``SandboxConfig`` always produces the same importers, uuids, pedimento numbers
and demo cases. The values are invented but follow the real formats. RFCs
have 12 or 13 characters and their letter block may contain ``&`` or ``Ñ``.
Aduana-sección codes have 3 digits and patentes 4. Pedimento numbers have 7
digits, the first being the last digit of the year.
"""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .config import SandboxConfig

# Aduana-sección codes with their Anexo 22 names, used for pedimentos and in
# the VUCEM replies.
ADUANAS = {
    "160": "MANZANILLO, COLIMA.",
    "070": "CIUDAD JUAREZ, CHIHUAHUA.",
    "240": "NUEVO LAREDO, TAMAULIPAS.",
    "400": "TIJUANA, BAJA CALIFORNIA.",
    "430": "VERACRUZ, VERACRUZ.",
    "470": "AEROPUERTO INTERNACIONAL DE LA CIUDAD DE MEXICO.",
    "510": "LAZARO CARDENAS, MICHOACAN.",
    "800": "COLOMBIA, NUEVO LEON.",
}

# Last digit of the year, the first digit of every seeded pedimento number.
YEAR_DIGIT = "5"
SERVICE_TYPE = 3
FIRST_SERVICE_ID = 101
PENDING = 1
# Service timestamps start here and grow with the id.
EPOCH = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)

# Invalid-data cases that the client must reject before calling VUCEM.
INVALID_KINDS = ("pedimento_6_digits", "patente_letter", "aduana_null")

_MORAL_NAMES = (
    "COMERCIALIZADORA DEL PACIFICO",
    "IMPORTADORA INDUSTRIAL DEL BAJIO",
    "DISTRIBUIDORA DE AUTOPARTES MONTERREY",
    "TEXTILES Y FIBRAS DE JALISCO",
    "ELECTRONICOS DE LA FRONTERA",
    "ALIMENTOS SELECTOS DEL GOLFO",
    "MAQUINARIA AGRÍCOLA DEL NORTE",
    "QUÍMICOS Y RESINAS DE OCCIDENTE",
)
_PERSON_NAMES = (
    "JOSÉ LUIS PEÑA ORDÓÑEZ",
    "MARÍA FERNANDA IBÁÑEZ CRUZ",
    "ANTONIO NÚÑEZ VILLASEÑOR",
    "GUADALUPE MUÑOZ ZÚÑIGA",
)
_LETTERS = string.ascii_uppercase
_HOMOCLAVE = string.ascii_uppercase + string.digits
_PASSWORD_ALPHABET = string.ascii_letters + string.digits + "+/"


@dataclass
class Importer:
    """An importer (contribuyente) with its VUCEM and backend credentials."""

    rfc: str
    name: str
    # The key VUCEM accepts for this RFC.
    vucem_password: str
    # The rows the backend returns for this RFC (usuario, password, ...).
    backend_credentials: list[dict] = field(default_factory=list)
    # Demo case: "wrong_key", "inactive_only" or "" for a valid importer.
    case: str = ""


@dataclass(frozen=True)
class VucemRecord:
    """A pedimento the simulated VUCEM stores, keyed by aduana+patente+number."""

    aduana: str
    patente: str
    pedimento: str
    rfc: str
    importer_name: str
    # Seed for the reply details (amounts, partidas, identificadores, ...).
    detail_seed: str
    # Pad razonSocial, calle, ... to their fixed widths, as 2015 replies do.
    padded: bool

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.aduana, self.patente, self.pedimento)


@dataclass
class World:
    """Everything seeded for one sandbox."""

    organizacion: str
    patentes: list[str]
    importers: list[Importer]
    services: list[dict]
    vucem_records: list[VucemRecord]
    # Demo case name -> service ids, for the start-up summary and tests.
    cases: dict[str, list[int]]
    # The seeded RNG and number pool go on serving services added later.
    rng: random.Random
    numbers: NumberPool


def new_uuid(rng: random.Random) -> str:
    """Return a random version-4 UUID string drawn from ``rng``."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def new_password(rng: random.Random) -> str:
    """Return a 64-character key in the style VUCEM issues."""
    return "".join(rng.choice(_PASSWORD_ALPHABET) for _ in range(64))


def new_rfc(rng: random.Random, *, persona_fisica: bool, special: str = "") -> str:
    """Return an RFC; ``special`` ('&' or 'Ñ') is put into the letter block."""
    letters = [rng.choice(_LETTERS) for _ in range(4 if persona_fisica else 3)]
    if special:
        letters[1] = special
    birth = datetime(1960, 1, 1) + timedelta(days=rng.randrange(0, 60 * 365))
    homoclave = "".join(rng.choice(_HOMOCLAVE) for _ in range(3))
    return "".join(letters) + birth.strftime("%y%m%d") + homoclave


def timestamp(service_id: int) -> str:
    """Return the seeded creation time of a service in DRF's format."""
    moment = EPOCH + timedelta(seconds=37 * (service_id - FIRST_SERVICE_ID))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_service(
    *,
    service_id: int,
    organizacion: str,
    pedimento: dict,
    estado: int = PENDING,
    servicio: int = SERVICE_TYPE,
    tipo_procesamiento: int = 1,
) -> dict:
    """Build a service dict in the shape the backend API returns it."""
    created = timestamp(service_id)
    return {
        "id": service_id,
        "estado": estado,
        "servicio": servicio,
        "tipo_procesamiento": tipo_procesamiento,
        "organizacion": organizacion,
        "pedimento": pedimento,
        "created_at": created,
        "updated_at": created,
    }


def make_pedimento(
    rng: random.Random,
    *,
    organizacion: str,
    number: str | None,
    aduana: str | None,
    patente: str | None,
    rfc: str,
) -> dict:
    """Build the nested pedimento dict of a service."""
    return {
        "id": new_uuid(rng),
        "pedimento": number,
        "aduana": aduana,
        "patente": patente,
        "contribuyente": rfc,
        "numero_operacion": None,
        "numero_partidas": None,
        "remesas": False,
        "tipo_operacion": 1,
        "curp_apoderado": None,
        "agente_aduanal": None,
        "organizacion": organizacion,
    }


class NumberPool:
    """Unique 7-digit pedimento numbers drawn from a seeded RNG."""

    def __init__(self, rng: random.Random):
        self._rng = rng
        self._used: set[str] = set()

    def take(self) -> str:
        while True:
            number = YEAR_DIGIT + f"{self._rng.randrange(0, 10**6):06d}"
            if number not in self._used:
                self._used.add(number)
                return number

    def reserve(self, number: str) -> None:
        self._used.add(number)


def make_importers(
    rng: random.Random, config: SandboxConfig, patente: str
) -> list[Importer]:
    """Create the importers; the first two carry '&' and 'Ñ' in their RFCs."""
    importers = []
    used_rfcs: set[str] = set()
    for index in range(config.importers):
        persona_fisica = index % 2 == 1
        special = {0: "&", 1: "Ñ"}.get(index, "")
        rfc = new_rfc(rng, persona_fisica=persona_fisica, special=special)
        while rfc in used_rfcs:
            rfc = new_rfc(rng, persona_fisica=persona_fisica, special=special)
        used_rfcs.add(rfc)

        if persona_fisica:
            name = _PERSON_NAMES[(index // 2) % len(_PERSON_NAMES)]
        else:
            name = _MORAL_NAMES[(index // 2) % len(_MORAL_NAMES)] + ", S.A. DE C.V."
        if special == "&":
            name = "ACEROS & CABLES DEL NORTE, S.A. DE C.V."
        password = new_password(rng)
        importers.append(
            Importer(
                rfc=rfc,
                name=name,
                vucem_password=password,
                backend_credentials=[
                    {
                        "usuario": rfc,
                        "password": password,
                        "patente": patente,
                        "is_active": True,
                    }
                ],
            )
        )

    # Demo cases need at least one valid importer left over.
    if config.default_mix and config.importers >= 3:
        wrong_key = importers[-2]
        wrong_key.case = "wrong_key"
        wrong_key.backend_credentials[0]["password"] = new_password(rng)

        inactive = importers[-1]
        inactive.case = "inactive_only"
        inactive.backend_credentials[0]["is_active"] = False
    return importers


def _plan_cases(
    rng: random.Random, config: SandboxConfig, importers: list[Importer]
) -> dict:
    """Pick which service indexes carry each demo case."""
    count = config.services
    if not config.default_mix or count == 0:
        return {}

    requested: list[tuple[str, int]] = []
    for importer in importers:
        if importer.case:
            requested.append((importer.case, max(1, count // 20)))
    requested.append(("unknown_to_vucem", max(1, count // 15)))
    invalid_kinds = rng.sample(INVALID_KINDS, k=2 if count >= 10 else 1)
    requested.extend((kind, 1) for kind in invalid_kinds)

    free = list(range(count))
    rng.shuffle(free)
    plan: dict[str, list[int]] = {}
    for case, how_many in requested:
        chosen, free = free[:how_many], free[how_many:]
        if chosen:
            plan[case] = chosen
    return plan


def build_world(config: SandboxConfig) -> World:
    """Seed importers, credentials, pending services and VUCEM records."""
    rng = random.Random(config.seed)
    organizacion = new_uuid(rng)
    patentes = sorted({f"{rng.randrange(1000, 10000)}" for _ in range(2)})
    importers = make_importers(rng, config, patentes[0])
    plan = _plan_cases(rng, config, importers)
    case_of_index = {index: case for case, indexes in plan.items() for index in indexes}
    by_case = {imp.case: imp for imp in importers if imp.case}
    valid_importers = [imp for imp in importers if not imp.case]
    numbers = NumberPool(rng)
    aduana_codes = sorted(ADUANAS)

    services: list[dict] = []
    records: list[VucemRecord] = []
    cases: dict[str, list[int]] = {case: [] for case in plan}
    for index in range(config.services):
        service_id = FIRST_SERVICE_ID + index
        case = case_of_index.get(index, "")
        importer = by_case.get(case) or rng.choice(valid_importers)
        number = numbers.take()
        aduana = rng.choice(aduana_codes)
        patente = rng.choice(patentes)
        padded = rng.random() < 0.3
        if case == "pedimento_6_digits":
            number = number[1:]
        elif case == "patente_letter":
            patente = patente[:2] + "A" + patente[3:]
        elif case == "aduana_null":
            aduana = None
        pedimento = make_pedimento(
            rng,
            organizacion=organizacion,
            number=number,
            aduana=aduana,
            patente=patente,
            rfc=importer.rfc,
        )
        services.append(
            make_service(
                service_id=service_id, organizacion=organizacion, pedimento=pedimento
            )
        )
        if case:
            cases[case].append(service_id)
        if case in ("", "wrong_key", "inactive_only"):
            records.append(
                VucemRecord(
                    aduana=aduana,
                    patente=patente,
                    pedimento=number,
                    rfc=importer.rfc,
                    importer_name=importer.name,
                    detail_seed=f"{config.seed}:{number}",
                    padded=padded,
                )
            )

    return World(
        organizacion=organizacion,
        patentes=patentes,
        importers=importers,
        services=services,
        vucem_records=records,
        cases=cases,
        rng=rng,
        numbers=numbers,
    )
