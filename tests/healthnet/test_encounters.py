"""healthnet.services.encounter_create: the one way another app records a visit."""

from __future__ import annotations

import datetime as dt

import pytest

from healthnet.errors import InvalidInput
from healthnet.models import AuditEvent, Encounter, UserRole
from healthnet.services import encounter_create
from tests.factories import DepartmentFactory, InstitutionFactory, ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)


@pytest.fixture
def clinic():
    return InstitutionFactory(code="wh-p-1")


def test_records_the_visit_and_who_recorded_it(clinic):
    clerk = UserFactory(role=UserRole.CLERK, institution=clinic)
    resident = ResidentFactory()
    department = DepartmentFactory(institution=clinic, code="gp")
    encounter = encounter_create(
        actor=clerk,
        resident=resident,
        institution_id=clinic.pk,
        kind="outpatient",
        started_at=AT,
        source="scan",
        department=department,
    )
    stored = Encounter.objects.get()
    assert stored == encounter
    assert (stored.resident, stored.institution, stored.department) == (
        resident,
        clinic,
        department,
    )
    assert (stored.kind, stored.started_at, stored.ended_at, stored.source) == (
        "outpatient",
        AT,
        None,
        "scan",
    )
    audit = AuditEvent.objects.get(object_type="encounter")
    assert (audit.actor, audit.action, audit.object_id) == (
        clerk,
        "create",
        str(encounter.public_id),
    )


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"kind": "teleconsult"}, "encounter_kind_unknown"),
        ({"started_at": dt.datetime(2026, 3, 2, 9, 30)}, "started_at_naive"),
        ({"department": "elsewhere"}, "department_not_in_institution"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(clinic, changes, code):
    if changes.get("department") == "elsewhere":
        changes["department"] = DepartmentFactory(institution=InstitutionFactory(code="wh-p-2"))
    arguments = {
        "actor": None,
        "resident": ResidentFactory(),
        "institution_id": clinic.pk,
        "kind": "outpatient",
        "started_at": AT,
        **changes,
    }
    with pytest.raises(InvalidInput) as refused:
        encounter_create(**arguments)
    assert refused.value.code == code
    assert Encounter.objects.count() == 0
    assert not AuditEvent.objects.filter(object_type="encounter").exists()
