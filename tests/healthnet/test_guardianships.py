"""Guardianships (亲属码): registered and revoked at a desk of an institution the cared-for
resident concerns, audited; a guardian reaches only those they currently care for."""

from __future__ import annotations

import datetime as dt

import pytest

from healthnet import selectors, services
from healthnet.errors import Conflict, Forbidden, InvalidInput, NotFound
from healthnet.models import AuditEvent, GuardianRelationship, Guardianship, UserRole
from tests.factories import InstitutionFactory, ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def elder(institution):
    return ResidentFactory(registered_by=institution, name="王奶奶", birth_date=dt.date(1940, 3, 1))


@pytest.fixture
def daughter():
    return ResidentFactory(name="王丽", birth_date=dt.date(1975, 8, 1))


def register(clerk, guardian, ward, relationship=GuardianRelationship.CHILD):
    return services.guardianship_register(
        actor=clerk, guardian=guardian, ward=ward, relationship=relationship
    )


def test_a_desk_registers_a_guardian_with_an_audit_row(clerk, elder, daughter):
    guardianship = register(clerk, daughter, elder)

    assert (guardianship.guardian, guardianship.ward) == (daughter, elder)
    assert guardianship.institution_id == clerk.institution_id
    audit = AuditEvent.objects.get(action="guardianship_register")
    assert audit.object_id == str(elder.public_id)
    assert audit.details["guardian"] == str(daughter.public_id)
    assert list(selectors.wards_of_guardian(daughter)) == [guardianship]


def test_registering_again_is_idempotent_a_different_relationship_conflicts(clerk, elder, daughter):
    first = register(clerk, daughter, elder)
    assert register(clerk, daughter, elder).pk == first.pk
    assert AuditEvent.objects.filter(action="guardianship_register").count() == 1

    with pytest.raises(Conflict) as refused:
        register(clerk, daughter, elder, GuardianRelationship.SPOUSE)
    assert refused.value.code == "guardianship_exists"


def test_a_resident_cannot_guard_themself_and_a_guardian_is_an_adult(clerk, elder, institution):
    with pytest.raises(InvalidInput) as self_guard:
        register(clerk, elder, elder)
    assert self_guard.value.code == "guardian_is_ward"

    child = ResidentFactory(birth_date=dt.date.today() - dt.timedelta(days=17 * 366))
    with pytest.raises(InvalidInput) as minor:
        register(clerk, child, elder)
    assert minor.value.code == "guardian_minor"
    assert not Guardianship.objects.exists()


def test_a_guardian_turning_eighteen_today_may_register(clerk, elder):
    today = dt.date.today()
    try:
        born = today.replace(year=today.year - 18)
    except ValueError:  # 29 February
        born = today.replace(year=today.year - 18, day=28)
    assert register(clerk, ResidentFactory(birth_date=born), elder).pk


def test_an_unknown_relationship_is_refused(clerk, elder, daughter):
    with pytest.raises(InvalidInput) as refused:
        register(clerk, daughter, elder, "neighbour")
    assert refused.value.code == "relationship_unknown"


def test_a_desk_elsewhere_gets_the_404_of_no_resident(elder, daughter):
    elsewhere = UserFactory(role=UserRole.CLERK, institution=InstitutionFactory())

    with pytest.raises(NotFound) as refused:
        register(elsewhere, daughter, elder)
    assert refused.value.code == "resident_not_found"


def test_the_pharmacy_may_register_no_guardian(institution, elder, daughter):
    pharmacist = UserFactory(role=UserRole.PHARMACIST, institution=institution)

    with pytest.raises(Forbidden):
        register(pharmacist, daughter, elder)


def test_revoking_ends_the_guardianship_once_with_an_audit_row(clerk, elder, daughter):
    guardianship = register(clerk, daughter, elder)

    services.guardianship_revoke(actor=clerk, guardianship=guardianship, reason="家属申请")

    assert list(selectors.wards_of_guardian(daughter)) == []
    with pytest.raises(NotFound):
        selectors.ward_of_guardian(daughter, elder.public_id)
    audit = AuditEvent.objects.get(action="guardianship_revoke")
    assert audit.details == {"guardianship": str(guardianship.public_id), "reason": "家属申请"}
    with pytest.raises(Conflict):
        services.guardianship_revoke(actor=clerk, guardianship=guardianship, reason="again")
    with pytest.raises(InvalidInput):
        services.guardianship_revoke(
            actor=clerk, guardianship=register(clerk, daughter, elder), reason=" "
        )


def test_a_guardian_reaches_only_those_they_care_for(clerk, elder, daughter, institution):
    other = ResidentFactory(registered_by=institution)
    register(clerk, daughter, elder)

    assert selectors.ward_of_guardian(daughter, elder.public_id) == elder
    for someone in (other, daughter):
        with pytest.raises(NotFound) as refused:
            selectors.ward_of_guardian(daughter, someone.public_id)
        assert refused.value.code == "resident_not_found"
    with pytest.raises(NotFound):  # and the ward does not reach the guardian either
        selectors.ward_of_guardian(elder, daughter.public_id)


# --- API ---------------------------------------------------------------------------------------


def guardians_url(ward, suffix=""):
    return f"/api/v1/residents/{ward.public_id}/guardians{suffix}"


def test_the_api_registers_lists_and_revokes(clerk_api, elder, daughter):
    created = clerk_api.post(
        guardians_url(elder), {"guardian_id": str(daughter.public_id), "relationship": "child"}
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["guardian_id"] == str(daughter.public_id)
    assert body["relationship"] == "child"
    assert body["revoked_at"] is None

    listed = clerk_api.get(guardians_url(elder)).json()
    assert [g["id"] for g in listed] == [body["id"]]

    revoked = clerk_api.post(guardians_url(elder, f"/{body['id']}/revoke"), {"reason": "家属申请"})
    assert revoked.status_code == 200
    assert revoked.json()["revoked_reason"] == "家属申请"
    assert clerk_api.get(guardians_url(elder)).json() == []
    assert len(clerk_api.get(guardians_url(elder), {"include_revoked": "true"}).json()) == 1


def test_the_api_answers_out_of_scope_as_unknown_and_other_roles_403(
    elder, daughter, make_api_client
):
    elsewhere = make_api_client(UserFactory(role=UserRole.CLERK, institution=InstitutionFactory()))
    unknown = elsewhere.get("/api/v1/residents/00000000-0000-0000-0000-000000000000/guardians")
    out_of_scope = elsewhere.get(guardians_url(elder))
    assert out_of_scope.status_code == unknown.status_code == 404
    assert out_of_scope.json() == unknown.json()

    resident_login = UserFactory(role=UserRole.RESIDENT, institution=None, resident=daughter)
    as_resident = make_api_client(resident_login).post(
        guardians_url(elder), {"guardian_id": str(daughter.public_id), "relationship": "child"}
    )
    assert as_resident.status_code == 403
    assert not Guardianship.objects.exists()


def test_revoking_through_another_residents_url_is_not_found(
    clerk_api, clerk, elder, daughter, institution
):
    guardianship = register(clerk, daughter, elder)
    other = ResidentFactory(registered_by=institution)

    response = clerk_api.post(
        guardians_url(other, f"/{guardianship.public_id}/revoke"), {"reason": "x"}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "guardianship_not_found"
