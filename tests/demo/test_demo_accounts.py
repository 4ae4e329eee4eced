from __future__ import annotations

import pytest
from django.core.management import call_command

from healthnet.models import Tier, User, UserRole
from tests.conftest import api_client_for
from tests.factories import InstitutionFactory, ResidentFactory

pytestmark = pytest.mark.django_db


def test_every_role_gets_a_demo_login_that_can_get_a_token():
    for tier in Tier.values:
        InstitutionFactory(tier=tier)
    ResidentFactory()

    call_command("seed_demo_users")
    call_command("seed_demo_users")  # idempotent

    assert set(User.objects.values_list("role", flat=True)) == set(UserRole.values)
    assert User.objects.count() == 12
    doctor = User.objects.get(username="clinic-doctor")
    assert doctor.institution.tier == Tier.PRIMARY
    assert doctor.practitioner.roles.get().institution == doctor.institution
    assert api_client_for(doctor).get("/api/v1/auth/me").json()["role"] == "doctor"
