"""The resident record, staff view (portal issue 10 page 7): identity with the ID number masked,
the contract and team, the referrals into and out of the user's institution, the visits to it
and the scans there. The resident must concern the user's institution
(healthnet.selectors.resident_visible_to): any other answers the 404 of a resident who does not
exist. Every view is an audit `read`, as GET /api/v1/residents/{id} is.

Each part is shown to the roles the same rule shows it to elsewhere: the contract and team as on
a scan (healthcodes.permissions.can_see_scan_contract), the referrals to the roles that work the
referral lists (referral.worklist; not the pharmacy). No part shows clinical text.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from healthcodes.permissions import can_see_scan_contract
from healthcodes.selectors import scan_events_for_institution
from healthnet.models import KeyPopulation
from healthnet.national_id import resident_national_id_masked
from healthnet.permissions import can_read_resident_clinical, has_permission
from healthnet.populations import age_on, resident_key_populations
from healthnet.selectors import encounters_of_resident_at, resident_visible_to
from healthnet.services import audit_record
from portal.htmx import PortalRequest
from portal.menu import page_view
from portal.pages.lists import found
from referrals.selectors import WorklistFilters, referrals_worklist
from signing import permissions as signing_permissions
from signing import selectors as signing_selectors

SHOWN = 20  # the latest visits, scans and referrals shown


@page_view("resident-record")
def resident_record(request: PortalRequest, resident_id: uuid.UUID) -> HttpResponse:
    user = request.user
    resident = found(resident_visible_to, user, resident_id)
    with transaction.atomic():
        audit_record(
            actor=user,
            action="read",
            object_type="resident",
            object_id=resident.public_id,
            details={"via": "portal_record"},
        )
    today = timezone.localdate()
    clinical = can_read_resident_clinical(user)
    contract = None
    contract_mine = False
    contract_shown = can_see_scan_contract(user)
    if contract_shown:
        contract = signing_selectors.active_contract_for(resident)
        contract_mine = contract is not None and signing_permissions.can_view_contract(
            user, contract, member_team_ids=signing_selectors.member_team_ids(user)
        )
    referrals = None
    if has_permission(user, "referral.worklist"):
        referrals = list(
            referrals_worklist(user, WorklistFilters(resident=resident.public_id)).order_by(
                "-created_at", "-pk"
            )[:SHOWN]
        )
    visits = list(
        encounters_of_resident_at(resident=resident, institution_id=user.institution_id)[:SHOWN]
    )
    scans = (
        list(
            scan_events_for_institution(institution_id=user.institution_id).filter(
                resident=resident
            )[:SHOWN]
        )
        if user.institution_id is not None  # as encounters_of_resident_at: no institution, none
        else []
    )
    return render(
        request,
        "portal/residents/record.html",
        {
            "resident": resident,
            "masked_id": resident_national_id_masked(resident),
            "age": age_on(resident.birth_date, today),
            # health tags and contact details: the clinical view only (the API's predicate)
            "clinical": clinical,
            "populations": [
                KeyPopulation(p).label for p in resident_key_populations(resident, on=today)
            ]
            if clinical
            else [],
            "contract": contract,
            "contract_shown": contract_shown,
            "contract_mine": contract_mine,
            "referrals": referrals,
            "visits": visits,
            "scans": scans,
            "shown": SHOWN,
        },
    )
