"""Who sees a referral, and the scope question other apps ask."""

from __future__ import annotations

import pytest
from django.conf import settings

from healthnet.models import UserRole
from referrals import permissions, selectors
from referrals.selectors import WorklistFilters
from tests.factories import ResidentFactory, UserFactory
from tests.referrals.support import create_up


def test_resident_concerns_institution(net):
    assert not selectors.resident_concerns_institution(net.resident, net.tertiary.pk)
    create_up(net)
    assert selectors.resident_concerns_institution(net.resident, net.tertiary.pk)
    assert selectors.resident_concerns_institution(net.resident, net.primary.pk)
    assert not selectors.resident_concerns_institution(net.resident, net.district.pk)
    assert not selectors.resident_concerns_institution(net.resident, None)


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("referring_doctor", True),
        ("referring_clerk", True),
        ("receiving_nurse", True),
        ("other_institution_doctor", False),
        ("the_resident", True),
        ("another_resident", False),
        ("bureau", False),
        ("system_admin", False),
        ("inactive_receiving_coordinator", False),
    ],
)
def test_view_scope(net, who, sees):
    referral = create_up(net)
    users = {
        "referring_doctor": lambda: net.referrer,
        "referring_clerk": lambda: net.user(net.primary, UserRole.CLERK),
        "receiving_nurse": lambda: net.user(net.tertiary, UserRole.NURSE),
        "other_institution_doctor": lambda: net.user(net.primary_b, UserRole.DOCTOR),
        "the_resident": lambda: UserFactory(
            role=UserRole.RESIDENT, institution=None, resident=net.resident
        ),
        "another_resident": lambda: UserFactory(
            role=UserRole.RESIDENT, institution=None, resident=ResidentFactory()
        ),
        "bureau": lambda: UserFactory(role=UserRole.BUREAU, institution=None),
        "system_admin": lambda: UserFactory(role=UserRole.SYSTEM_ADMIN, institution=None),
        "inactive_receiving_coordinator": lambda: UserFactory(
            role=UserRole.REFERRAL_COORDINATOR, institution=net.tertiary, is_active=False
        ),
    }
    user = users[who]()
    assert permissions.can_view_referral(user, referral) is sees
    listed = selectors.referrals_worklist(user, WorklistFilters()).filter(pk=referral.pk).exists()
    assert listed is sees


def test_only_referring_staff_may_act_as_referrer(net):
    referral = create_up(net)
    assert permissions.referral_allowed_actions(net.referrer, referral) == ["cancel"]
    assert sorted(permissions.referral_allowed_actions(net.office, referral)) == [
        "accept",
        "redirect",
        "reject",
    ]
    assert (
        permissions.referral_allowed_actions(net.user(net.tertiary, UserRole.CLERK), referral) == []
    )
    assert permissions.can_take_referral_action(net.office, referral, "schedule")
    assert not permissions.can_take_referral_action(net.referrer, referral, "schedule")


def test_periodic_jobs_are_scheduled_and_registered():
    from config.celery import app

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for name in (
        "referrals.tasks.referrals_escalate_overdue",
        "referrals.tasks.referrals_auto_close",
    ):
        assert name in tasks
        app.loader.import_default_modules()
        assert name in app.tasks
