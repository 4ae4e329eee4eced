"""A referral ties its resident to both institutions: their staff may read the resident."""

from __future__ import annotations

from healthnet.models import AuditEvent, UserRole
from tests.conftest import api_client_for
from tests.factories import InstitutionFactory, UserFactory
from tests.referrals.support import create_up


def test_receiving_staff_may_read_a_referred_resident_and_others_may_not(net):
    resident_url = f"/api/v1/residents/{net.resident.public_id}"
    receiving = api_client_for(net.office)
    assert receiving.get(resident_url).status_code == 404  # nothing ties them yet

    create_up(net)

    assert receiving.get(resident_url).status_code == 200
    stranger = UserFactory(role=UserRole.DOCTOR, institution=InstitutionFactory())
    assert api_client_for(stranger).get(resident_url).status_code == 404
    assert AuditEvent.objects.filter(
        action="read", object_id=str(net.resident.public_id), actor=net.office
    ).exists()
