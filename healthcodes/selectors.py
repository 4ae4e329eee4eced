"""Reads of the health-code app, with their joins decided here once.

The scan summary reads the resident's contract (signing.selectors.active_contract_for) and open
referrals (referrals.selectors.referrals_open_for_resident) through those apps' selectors.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet

from healthcodes import permissions
from healthcodes.models import HealthCard, ScanEvent
from healthnet.models import Resident, User
from healthnet.national_id import decrypt_national_id, mask_national_id
from healthnet.populations import age_on, resident_key_populations
from referrals.selectors import referrals_open_for_resident
from signing.selectors import active_contract_for


def healthcard_current(*, resident: Resident) -> HealthCard | None:
    return HealthCard.objects.filter(resident=resident, revoked_at__isnull=True).first()


def healthcard_by_sub(*, sub: str) -> HealthCard | None:
    """The card a scanned code names, with its resident and their registry tags (one query
    each), everything the scan needs."""
    return (
        HealthCard.objects.select_related("resident")
        .prefetch_related("resident__population_tags")
        .filter(sub=sub)
        .first()
    )


def scan_events_for_institution(
    *, institution_id: int, result: str | None = None, purpose: str | None = None
) -> QuerySet[ScanEvent]:
    qs = ScanEvent.objects.filter(institution_id=institution_id)
    if result:
        qs = qs.filter(result=result)
    if purpose:
        qs = qs.filter(purpose=purpose)
    return qs.select_related("scanned_by", "resident", "encounter").order_by("-at", "-pk")


# --- the resident summary a scan shows ---------------------------------------------------------


def scan_summary(*, user: User, resident: Resident, on: dt.date) -> dict[str, Any]:
    """What the scanning role may see of the resident (healthcodes.permissions): identity with the
    ID masked for everyone; contract and team; referrals and today's appointments for the roles
    that register, treat or route patients."""
    summary: dict[str, Any] = {
        "resident_id": resident.public_id,
        "name": resident.name,
        "sex": resident.sex,
        "age": age_on(resident.birth_date, on),
        "national_id_masked": mask_national_id(decrypt_national_id(resident.national_id_encrypted)),
        "key_populations": resident_key_populations(resident, on=on),
        "contract": None,
        "referrals": [],
        "appointments_today": [],
    }
    if permissions.can_see_scan_contract(user):
        summary["contract"] = _contract_summary(resident)
    if permissions.can_see_scan_referrals(user):
        referrals = _open_referrals(resident)
        summary["referrals"] = [summary for summary, _ in referrals]
        summary["appointments_today"] = [
            summary
            for summary, to_institution_id in referrals
            if summary["appointment_date"] == on and to_institution_id == user.institution_id
        ]
    return summary


def _contract_summary(resident: Resident) -> dict[str, Any] | None:
    contract = active_contract_for(resident)
    if contract is None:
        return None
    return {
        "id": contract.public_id,
        "status": contract.status,
        "start_date": contract.start_date,
        "end_date": contract.end_date,
        "team": contract.team.name,
        "team_institution": contract.team.institution.name,
    }


def _open_referrals(resident: Resident) -> list[tuple[dict[str, Any], int]]:
    return [
        (
            {
                "id": referral.public_id,
                "direction": referral.direction,
                "status": referral.status,
                "urgency": referral.urgency,
                "from_institution": referral.from_institution.name,
                "to_institution": referral.to_institution.name,
                "to_department": referral.to_department.name,
                "appointment_date": referral.appointment_date,
            },
            referral.to_institution_id,
        )
        for referral in referrals_open_for_resident(resident)
    ]
