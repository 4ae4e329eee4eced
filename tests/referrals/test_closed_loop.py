"""The closed loop end to end with the signing app (docs/design.md §4): primary → tertiary up,
accepted,
scheduled, arrived, completed with "return to primary care" → a downward referral to the
resident's family-doctor team → the team's follow-up → closed."""

from __future__ import annotations

import pytest
from django.utils import timezone

from healthnet import services as healthnet_services
from healthnet.errors import InvalidInput
from healthnet.models import Encounter, Practitioner, UserRole
from healthnet.national_id import decrypt_national_id
from referrals import services
from referrals.models import Referral, ReferralDirection, ReferralStatus
from signing import catalogue
from signing import models as signing_models
from signing import services as signing_services
from tests.conftest import api_client_for
from tests.factories import ResidentFactory, UserFactory
from tests.referrals.support import create_up, tomorrow

S = ReferralStatus


@pytest.fixture
def signed(net):
    """A resident registered at primary B, signed with a team based at primary A."""
    catalogue.service_packages_load()
    gp = Practitioner.objects.create(name="李医生", sex="female")
    gp_user = UserFactory(
        username="team-gp", role=UserRole.DOCTOR, institution=net.primary, practitioner=gp
    )
    team = signing_services.team_create(
        actor=None, code="wh-p-01-t1", name="新华家医一队", institution=net.primary, lead=gp
    )
    resident = ResidentFactory(registered_by=net.primary_b)
    basic = signing_models.ServicePackage.objects.get(kind="basic")
    contract = signing_services.contract_create(
        actor=gp_user,
        resident=resident,
        team=team,
        package_codes=[basic.code],
        # No tie to the team's institution yet: the resident shows their ID card at its desk.
        national_id=decrypt_national_id(resident.national_id_encrypted),
    )
    signing_services.contract_sign(
        actor=gp_user, contract=contract, signed_by="resident", method="in_person"
    )
    return resident, gp_user, contract


def test_closed_loop_end_to_end(net, signed):
    resident, gp_user, contract = signed
    referrer = net.user(net.primary_b, UserRole.DOCTOR)
    up = create_up(net, actor=referrer, resident=resident, from_department=net.primary_b_dept)
    up = services.referral_accept(referral=up, actor=net.office)
    up = services.referral_schedule(referral=up, actor=net.office, date=tomorrow())
    up = services.referral_arrive(referral=up, actor=net.office)

    # a signed resident goes back only with consent
    with pytest.raises(InvalidInput) as refused:
        services.referral_complete(
            referral=up, actor=net.receiving_doctor, summary="PCI术后", return_to_primary_care=True
        )
    assert refused.value.code == "consent_required"
    assert Referral.objects.get(pk=up.pk).status == S.ARRIVED

    up = services.referral_complete(
        referral=up,
        actor=net.receiving_doctor,
        summary="PCI术后稳定",
        recommendations="社区随访血压血脂",
        return_to_primary_care=True,
        resident_consent=True,
    )
    down = up.follow_on
    assert down.direction == ReferralDirection.DOWN
    assert down.status == S.SUBMITTED
    # to the team's institution, not back to the referring institution
    assert down.to_institution == net.primary
    assert down.resident_consent is True
    assert down.consent_recorded_at is not None

    followup = contract.follow_ups.filter(status="pending").order_by("due_date").first()
    signing_services.followup_record(actor=gp_user, followup=followup, outcome="血压控制良好")
    down.refresh_from_db()
    assert down.status == S.CLOSED
    event = down.events.last()
    assert (event.action, event.from_status, event.to_status, event.actor) == (
        "close_loop",
        "submitted",
        "closed",
        gp_user,
    )

    up = services.referral_acknowledge(referral=up, actor=referrer)
    assert up.status == S.CLOSED
    assert list(up.events.values_list("action", flat=True)) == [
        "create",
        "submit",
        "accept",
        "schedule",
        "arrive",
        "complete",
        "acknowledge",
    ]


def _visited_tertiary(net, resident):
    Encounter.objects.create(
        resident=resident, institution=net.tertiary, kind="inpatient", started_at=timezone.now()
    )


def test_downward_of_signed_resident_must_go_to_the_team(net, signed):
    resident, _, _ = signed
    _visited_tertiary(net, resident)
    with pytest.raises(InvalidInput) as refused:
        services.referral_create(
            actor=net.receiving_doctor,
            resident=resident,
            to_department=net.primary_b_dept,
            urgency="routine",
            reason_code="rehab",
        )
    assert refused.value.code == "downward_must_go_to_team"
    assert refused.value.details["team_institution"] == net.primary.code


def test_downward_of_signed_resident_needs_consent(net, signed):
    resident, _, _ = signed
    _visited_tertiary(net, resident)
    with pytest.raises(InvalidInput) as refused:
        services.referral_create(
            actor=net.receiving_doctor,
            resident=resident,
            to_department=net.primary_dept,
            urgency="routine",
            reason_code="rehab",
        )
    assert refused.value.code == "consent_required"
    referral, _ = services.referral_create(
        actor=net.receiving_doctor,
        resident=resident,
        to_department=net.primary_dept,
        urgency="routine",
        reason_code="rehab",
        resident_consent=True,
    )
    assert referral.resident_consent is True


def test_suggestions_down_for_a_signed_resident_name_only_the_team(net, signed):
    resident, _, _ = signed
    # The tertiary has seen the resident (a resident it has no tie to answers 404: the
    # suggestions would name their team's institution).
    healthnet_services.encounter_create(
        actor=None,
        resident=resident,
        institution_id=net.tertiary.pk,
        kind="inpatient",
        started_at=timezone.now(),
    )
    api = api_client_for(net.office)
    body = api.get(
        "/api/v1/referrals/suggestions", {"direction": "down", "resident": str(resident.public_id)}
    ).json()
    assert {s["institution"]["code"] for s in body} == {net.primary.code}
    assert all(s["team_institution"] for s in body)
