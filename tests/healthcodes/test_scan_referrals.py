"""A scan at the receiving institution of a scheduled referral marks it arrived (docs/design.md
§4), and
the scan summary shows open referrals and today's appointment to the roles that may see them."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from healthcodes import keys, services
from healthnet.models import AuditEvent, Encounter, UserRole
from referrals.models import ReferralStatus
from tests.conftest import api_client_for
from tests.factories import UserFactory
from tests.referrals.support import build_network, referral_in

SCAN = "/api/v1/healthcodes/scan"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_key_caches():
    keys.invalidate_key_caches()
    yield
    keys.invalidate_key_caches()


@pytest.fixture
def net(db):
    return build_network()


@pytest.fixture
def phone(net):
    """The resident's login; returns a function giving a fresh dynamic code."""
    user = UserFactory(role=UserRole.RESIDENT, institution=None, resident=net.resident)
    card = services.healthcard_issue(actor=user, resident=net.resident)
    return lambda: services.healthcode_issue_dynamic(actor=user, card=card).text


def appointment_day_noon(referral) -> dt.datetime:
    day = referral.appointment.date
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)))


def test_scan_at_the_receiving_desk_marks_the_scheduled_referral_arrived(net, phone):
    referral = referral_in(net, ReferralStatus.SCHEDULED)
    with time_machine.travel(appointment_day_noon(referral), tick=False):
        # The desk logs in on the appointment day: a token lives one shift (docs/security.md).
        desk = api_client_for(net.user(net.tertiary, UserRole.CLERK))
        response = desk.post(SCAN, {"code": phone(), "purpose": "registration"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["referrals_arrived"] == [str(referral.public_id)]
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.ARRIVED
    listed = body["resident"]["referrals"]
    assert [(r["id"], r["status"]) for r in listed] == [(str(referral.public_id), "arrived")]
    today = body["resident"]["appointments_today"]
    assert [r["id"] for r in today] == [str(referral.public_id)]
    assert today[0]["to_department"] == net.cardiology.name


def test_scan_elsewhere_or_for_dispensing_does_not_mark_arrival(net, phone):
    referral = referral_in(net, ReferralStatus.SCHEDULED)
    elsewhere = api_client_for(net.user(net.primary, UserRole.CLERK))
    pharmacy = api_client_for(net.user(net.tertiary, UserRole.PHARMACIST))

    response = elsewhere.post(SCAN, {"code": phone(), "purpose": "registration"})
    assert response.status_code == 200
    assert response.json()["referrals_arrived"] == []
    assert response.json()["resident"]["appointments_today"] == []

    response = pharmacy.post(SCAN, {"code": phone(), "purpose": "dispensing"})
    assert response.status_code == 200
    assert response.json()["referrals_arrived"] == []
    assert response.json()["resident"]["referrals"] == []  # not the pharmacy's to see
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.SCHEDULED


def test_a_role_that_may_not_check_in_leaves_the_referral_to_the_office(net, phone):
    referral = referral_in(net, ReferralStatus.SCHEDULED)
    admin = api_client_for(net.user(net.tertiary, UserRole.INSTITUTION_ADMIN))
    response = admin.post(SCAN, {"code": phone(), "purpose": "registration"})
    assert response.status_code == 200  # the scan itself stands
    assert response.json()["referrals_arrived"] == []
    assert response.json()["encounter_id"] is not None
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.SCHEDULED


def test_drafts_and_finished_referrals_are_not_listed(net, phone):
    referral_in(net, ReferralStatus.DRAFT)
    desk = api_client_for(net.user(net.tertiary, UserRole.CLERK))
    body = desk.post(SCAN, {"code": phone(), "purpose": "consultation"}).json()
    assert body["resident"]["referrals"] == []
    assert body["resident"]["contract"] is None


def test_only_a_referral_waiting_for_arrival_is_marked(net, phone):
    # a no-show waits for a rebooking, not for the resident: the scan leaves it to the desk
    missed = referral_in(net, ReferralStatus.NO_SHOW)
    desk = api_client_for(net.user(net.tertiary, UserRole.CLERK))
    body = desk.post(SCAN, {"code": phone(), "purpose": "consultation"}).json()
    assert body["referrals_arrived"] == []
    missed.refresh_from_db()
    assert missed.status == ReferralStatus.NO_SHOW


def test_the_registration_visit_is_recorded_by_the_network_with_its_audit_row(net, phone):
    clerk = net.user(net.tertiary, UserRole.CLERK)
    body = api_client_for(clerk).post(SCAN, {"code": phone(), "purpose": "registration"}).json()
    encounter = Encounter.objects.get(public_id=body["encounter_id"])
    assert (encounter.institution, encounter.source) == (net.tertiary, "scan")
    audit = AuditEvent.objects.get(object_type="encounter")
    assert (audit.action, audit.actor, audit.object_id) == (
        "create",
        clerk,
        str(encounter.public_id),
    )
