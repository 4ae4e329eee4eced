"""The resident record, staff view (portal issue 10 page 7): masked ID, contract and team,
referrals, visits and scans; an audit event per view; 404 for a resident outside the user's
scope exactly as for one who does not exist; per role; queries flat in the record's length."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from healthcodes.models import ScanEvent, ScanPurpose, ScanResult
from healthnet.models import AuditEvent, Encounter, EncounterKind
from healthnet.national_id import decrypt_national_id
from tests.factories import ResidentFactory
from tests.portal.scenario import build_clinic

pytestmark = pytest.mark.django_db

STAFF = ["doctor", "public_health", "nurse", "referral_coordinator", "clerk", "pharmacist"]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def main_of(response) -> str:
    html = response.content.decode()
    return html[html.index("<main") : html.index("</main>")]


@pytest.fixture
def clinic():
    return build_clinic()


def _visit(clinic, resident, days_ago: int) -> Encounter:
    return Encounter.objects.create(
        resident=resident,
        institution=clinic.primary,
        department=clinic.primary_dept,
        kind=EncounterKind.OUTPATIENT,
        started_at=timezone.now() - dt.timedelta(days=days_ago),
    )


def _scan(clinic, resident, days_ago: int) -> ScanEvent:
    return ScanEvent.objects.create(
        at=timezone.now() - dt.timedelta(days=days_ago),
        institution=clinic.primary,
        purpose=ScanPurpose.REGISTRATION,
        result=ScanResult.ACCEPTED,
        resident=resident,
    )


@pytest.mark.parametrize("role", [*STAFF, "institution_admin"])
def test_staff_of_the_institution_read_the_record_masked_and_audited(clinic, role):
    resident = clinic.contracts[1].resident  # 刘志强: signed with t-01, referred up to T
    _visit(clinic, resident, 3)
    _scan(clinic, resident, 3)
    user = clinic.users[role]

    response = client_for(user).get(f"/residents/{resident.public_id}/")

    page = main_of(response)
    number = decrypt_national_id(resident.national_id_encrypted)
    assert response.status_code == 200
    assert number not in page
    assert f"{number[:4]}**********{number[-4:]}" in page
    assert "新华社区第一家庭医生团队" in page  # contract and team: every staff role (scan rule)
    assert "门诊" in page  # the visit
    assert "挂号 · 通过" in page  # the scan
    # Referrals: the roles that work the referral lists, not the pharmacy.
    assert ("data-referral=" in page) is (role != "pharmacist")
    assert AuditEvent.objects.filter(
        actor=user, action="read", object_type="resident", object_id=str(resident.public_id)
    ).exists()


def test_the_team_sees_a_link_to_the_contract_others_only_the_team(clinic):
    resident = clinic.contracts[1].resident
    contract_link = f'href="/team/contracts/{clinic.contracts[1].public_id}/"'

    doctor = main_of(client_for(clinic.users["doctor"]).get(f"/residents/{resident.public_id}/"))
    clerk = main_of(client_for(clinic.users["clerk"]).get(f"/residents/{resident.public_id}/"))

    assert contract_link in doctor
    assert contract_link not in clerk


def test_a_resident_outside_the_institution_answers_as_one_who_does_not_exist(clinic):
    stranger = ResidentFactory(registered_by=clinic.tertiary, name="外院居民")
    client = client_for(clinic.users["doctor"])

    out_of_scope = client.get(f"/residents/{stranger.public_id}/")
    missing = client.get(f"/residents/{uuid.uuid4()}/")

    assert out_of_scope.status_code == missing.status_code == 404
    assert main_of(out_of_scope) == main_of(missing)
    assert "外院居民" not in out_of_scope.content.decode()
    assert not AuditEvent.objects.filter(object_id=str(stranger.public_id)).exists()


@pytest.mark.parametrize("role", ["bureau", "resident", "system_admin"])
def test_roles_that_read_no_staff_record_get_403(clinic, role):
    response = client_for(clinic.users[role]).get(f"/residents/{clinic.resident.public_id}/")

    assert response.status_code == 403


def test_the_empty_parts_say_so(clinic):
    resident = ResidentFactory(registered_by=clinic.primary, name="新居民")

    page = main_of(client_for(clinic.users["doctor"]).get(f"/residents/{resident.public_id}/"))

    assert "未签约家庭医生" in page
    assert "没有与本机构有关的转诊" in page
    assert "没有在本机构的就诊记录" in page
    assert "没有在本机构的扫码记录" in page


def test_the_record_costs_the_same_queries_for_one_or_many_visits_and_scans(clinic):
    resident = clinic.contracts[1].resident
    client = client_for(clinic.users["doctor"])
    _visit(clinic, resident, 1)
    _scan(clinic, resident, 1)
    client.get(f"/residents/{resident.public_id}/")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/residents/{resident.public_id}/").status_code == 200
        return len(captured)

    few = queries()
    for n in range(2, 8):
        _visit(clinic, resident, n)
        _scan(clinic, resident, n)

    assert queries() == few
