"""Fixtures for admin tests: users, clients and recorded runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from pedimentos.models import Run, ServiceOutcome


@pytest.fixture
def superuser_client(db):
    """Return a test client logged in as a superuser named 'ana'."""
    user = User.objects.create_superuser("ana", "ana@example.com", "secret-pass-1")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(db):
    """Return a factory of clients for staff users with the given permissions."""

    def make(username: str, *codenames: str) -> Client:
        user = User.objects.create_user(username, password="secret-pass-1", is_staff=True)
        for codename in codenames:
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label="pedimentos", codename=codename)
            )
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def make_run(db):
    """Return a factory of finished runs with counts set from its arguments."""

    def make(*, succeeded=0, failed=0, skipped=0, status=Run.Status.COMPLETED,
             kind=Run.Kind.PAGES, hours_ago=1.0, started_by="command (cron, user ops)"):
        started = timezone.now() - timedelta(hours=hours_ago)
        return Run.objects.create(
            kind=kind,
            status=status,
            started_at=started,
            finished_at=None if status == Run.Status.RUNNING else started + timedelta(seconds=95),
            start_page=1 if kind == Run.Kind.PAGES else None,
            end_page=3 if kind == Run.Kind.PAGES else None,
            service_type=3,
            workers=2,
            processed=succeeded + failed,
            succeeded=succeeded,
            failed=failed,
            skipped=skipped,
            started_by=started_by,
        )

    return make


@pytest.fixture
def make_outcome(db):
    """Return a factory of outcomes of a run; keyword arguments set fields."""
    counter = {"next": 1000}

    def make(run, **fields):
        counter["next"] += 1
        number = counter["next"]
        values = {
            "service_id": number,
            "pedimento_number": f"{4000000 + number}",
            "aduana": "240",
            "patente": "3420",
            "rfc": "AAA010101AAA",
            "organizacion": "org-1",
            "pedimento_uuid": f"uuid-{number}",
            "status": ServiceOutcome.Status.SUCCEEDED,
            "started_at": run.started_at,
            "finished_at": run.started_at + timedelta(seconds=10),
        }
        values.update(fields)
        return ServiceOutcome.objects.create(run=run, **values)

    return make
