"""A referral's care setting and its encounters, and how each direction's loop closes
(docs/design.md §4, §7): the setting at creation (default outpatient), the visit an arrival opens
(an inpatient referral is admitted), the follow-on's setting, the follow-up that closes a
downward loop linked to it, and the table's statement of which event closes which loop."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from healthnet import services as healthnet_services
from healthnet.models import Encounter, Practitioner, UserRole
from healthnet.national_id import decrypt_national_id
from healthnet.selectors import inpatient_discharges
from healthnet.workflow import Workflow, WorkflowError
from referrals import services
from referrals.models import Referral, ReferralStatus
from referrals.transitions import (
    LOOP_CLOSURE,
    REFERRAL_TABLE,
    Action,
    check_loop_closure,
    loop_closing_actions,
)
from signing import catalogue
from signing import models as signing_models
from signing import services as signing_services
from tests.conftest import api_client_for
from tests.factories import ResidentFactory, UserFactory
from tests.referrals.support import create_up, tomorrow

S = ReferralStatus
URL = "/api/v1/referrals"


def _payload(net, **overrides):
    body = {
        "resident": str(net.resident.public_id),
        "to_department": str(net.cardiology.public_id),
        "from_department": str(net.primary_dept.public_id),
        "urgency": "urgent",
        "reason_code": "I20.0",
    }
    body.update(overrides)
    return body


def _scheduled(net, **kw) -> Referral:
    referral = create_up(net, **kw)
    referral = services.referral_accept(referral=referral, actor=net.office)
    return services.referral_schedule(referral=referral, actor=net.office, date=tomorrow())


# --- the care setting at creation ----------------------------------------------------------------


def test_the_care_setting_defaults_to_outpatient_and_is_answered(net):
    api = api_client_for(net.referrer)
    plain = api.post(URL, _payload(net))
    assert plain.status_code == 201, plain.content
    assert plain.json()["care_setting"] == "outpatient"
    assert plain.json()["encounter"] is None

    inpatient = api.post(
        URL, _payload(net, to_department=str(net.district_dept.public_id), care_setting="inpatient")
    )
    assert inpatient.status_code == 201, inpatient.content
    assert inpatient.json()["care_setting"] == "inpatient"
    assert Referral.objects.get(public_id=inpatient.json()["id"]).care_setting == "inpatient"
    event = Referral.objects.get(public_id=inpatient.json()["id"]).events.first()
    assert event.details["care_setting"] == "inpatient"


def test_an_unknown_care_setting_is_refused_and_nothing_written(net):
    response = api_client_for(net.referrer).post(URL, _payload(net, care_setting="day_surgery"))
    assert response.status_code == 422
    assert Referral.objects.count() == 0


# --- the arrival opens (or takes) the visit -----------------------------------------------------


def test_arriving_records_the_visit_at_the_receiving_department(net):
    referral = services.referral_arrive(referral=_scheduled(net), actor=net.office)

    visit = referral.encounter
    assert (visit.resident, visit.institution, visit.department) == (
        net.resident,
        net.tertiary,
        net.cardiology,
    )
    assert (visit.kind, visit.started_at, visit.admitted_at) == (
        "outpatient",
        referral.arrived_at,
        None,
    )
    assert visit.source == "referral"
    assert Encounter.objects.get(referral=referral) == visit  # the reverse: Encounter.referral
    assert referral.events.last().details["encounter"] == str(visit.public_id)


def test_an_inpatient_referral_is_admitted_on_arrival(net):
    referral = services.referral_arrive(
        referral=_scheduled(net, care_setting="inpatient"), actor=net.office
    )
    assert (referral.encounter.kind, referral.encounter.admitted_at) == (
        "inpatient",
        referral.arrived_at,
    )


def test_the_scans_visit_is_taken_when_it_is_the_residents_at_that_institution(net):
    scanned = healthnet_services.encounter_create(
        actor=net.office,
        resident=net.resident,
        institution_id=net.tertiary.pk,
        kind="outpatient",
        started_at=timezone.now(),
        source="scan",
    )
    referral = services.referral_arrive(
        referral=_scheduled(net, care_setting="inpatient"), actor=net.office, encounter=scanned
    )
    assert referral.encounter == scanned
    scanned.refresh_from_db()
    assert scanned.kind == "inpatient"  # admitted on arrival
    assert scanned.admitted_at is not None
    assert Encounter.objects.count() == 1

    # someone else's visit is not taken: the arrival records its own
    other = ResidentFactory(registered_by=net.primary)
    elsewhere = healthnet_services.encounter_create(
        actor=net.office,
        resident=other,
        institution_id=net.tertiary.pk,
        kind="outpatient",
        started_at=timezone.now(),
    )
    another = ResidentFactory(registered_by=net.primary)
    referral_b = services.referral_arrive(
        referral=_scheduled(net, resident=another), actor=net.office, encounter=elsewhere
    )
    assert referral_b.encounter != elsewhere
    assert referral_b.encounter.resident == another


# --- the follow-on's setting, and discharges ------------------------------------------------------


def _completed_up(net, referral, *, admit_later: bool = False) -> Referral:
    referral = services.referral_arrive(referral=referral, actor=net.office)
    if admit_later:
        healthnet_services.inpatient_admit(actor=None, encounter=referral.encounter)
    return services.referral_complete(
        referral=referral,
        actor=net.receiving_doctor,
        summary="诊疗结束",
        return_to_primary_care=True,
    )


@pytest.mark.parametrize(
    ("care_setting", "admit_later", "expected"),
    [
        ("outpatient", False, "outpatient"),
        ("inpatient", False, "inpatient"),
        ("outpatient", True, "inpatient"),  # seen in the clinic, then admitted
    ],
)
def test_the_follow_on_takes_the_care_the_resident_had(net, care_setting, admit_later, expected):
    up = _completed_up(net, _scheduled(net, care_setting=care_setting), admit_later=admit_later)
    assert up.follow_on.care_setting == expected


def test_inpatient_downward_referrals_and_discharges_of_a_hospital(net):
    up = _completed_up(net, _scheduled(net, care_setting="inpatient"))
    stay = healthnet_services.inpatient_discharge(actor=None, encounter=up.encounter)
    start = stay.discharged_at - dt.timedelta(hours=1)
    end = stay.discharged_at + dt.timedelta(hours=1)
    discharges = inpatient_discharges(start, end).filter(institution=net.tertiary).count()
    down = Referral.objects.filter(
        from_institution=net.tertiary, direction="down", care_setting="inpatient"
    ).count()
    assert (down, discharges) == (1, 1)  # 住院患者下转占比 = 1 ÷ 1 here


# --- the follow-up that closes a downward loop ----------------------------------------------------


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
        national_id=decrypt_national_id(resident.national_id_encrypted),
    )
    signing_services.contract_sign(
        actor=gp_user, contract=contract, signed_by="resident", method="in_person"
    )
    return resident, gp_user, contract


def test_the_teams_follow_up_is_linked_to_the_downward_referral_it_closes(net, signed):
    resident, gp_user, contract = signed
    referrer = net.user(net.primary_b, UserRole.DOCTOR)
    up = create_up(net, actor=referrer, resident=resident, from_department=net.primary_b_dept)
    up = services.referral_accept(referral=up, actor=net.office)
    up = services.referral_schedule(referral=up, actor=net.office, date=tomorrow())
    up = services.referral_arrive(referral=up, actor=net.office)
    up = services.referral_complete(
        referral=up,
        actor=net.receiving_doctor,
        summary="稳定",
        return_to_primary_care=True,
        resident_consent=True,
    )
    down = up.follow_on
    followup = contract.follow_ups.filter(status="pending").order_by("due_date").first()
    signing_services.followup_record(actor=gp_user, followup=followup, outcome="血压控制良好")

    down.refresh_from_db()
    assert (down.status, down.closing_followup) == (S.CLOSED, followup)
    assert list(followup.answered_referrals.all()) == [down]
    assert down.events.last().details == {"followup": str(followup.public_id)}
    detail = api_client_for(referrer).get(f"{URL}/{up.public_id}").json()
    assert detail["closing_followup"] is None  # the upward one closes by acknowledgement
    down_detail = api_client_for(gp_user).get(f"{URL}/{down.public_id}")
    assert down_detail.json()["closing_followup"] == str(followup.public_id)

    # only a downward referral is answered by a follow-up: the database says so too
    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.filter(pk=up.pk).update(closing_followup=followup)


# --- the table says which event closes which loop --------------------------------------------


def test_each_directions_loop_closure_as_the_design_states_it():
    # docs/design.md §4, written out here: up closes when the referrer acknowledges the feedback
    # (or the system after 3 days), from completed; down when the team's first follow-up comes,
    # from any state between submitted and completed.
    assert loop_closing_actions("up") == ("acknowledge", "auto_close")
    assert LOOP_CLOSURE["up"].from_statuses == ("completed",)
    assert LOOP_CLOSURE["up"].answered_by == "feedback"
    assert loop_closing_actions("down") == ("close_loop",)
    assert set(LOOP_CLOSURE["down"].from_statuses) == {
        "submitted",
        "accepted",
        "scheduled",
        "no_show",
        "arrived",
        "completed",
    }
    assert LOOP_CLOSURE["down"].answered_by == "followup"
    for closure in LOOP_CLOSURE.values():
        for status in closure.from_statuses:
            targets = {
                REFERRAL_TABLE.transition(status, action).target
                for action in closure.closing_actions
                if REFERRAL_TABLE.transition(status, action) is not None
            }
            assert targets == {"closed"}


def test_a_table_without_the_downward_closing_move_is_refused():
    broken = Workflow(
        name="referral",
        states=REFERRAL_TABLE.states,
        transitions=[t for t in REFERRAL_TABLE.transitions if t.action != Action.CLOSE_LOOP],
    )
    with pytest.raises(WorkflowError, match="down loop"):
        check_loop_closure(broken)
