"""Reads of the health-code app, with their joins decided here once.

The scan summary borrows from the signing and referrals apps through guarded lazy imports, so
the scan works before (and without) them:

- `signing.selectors.active_contract_for(resident) -> Contract | None`
  (read: public_id, status, start_date, end_date, team.name, team.institution.name)
- `referrals.selectors.referrals_open_for_resident(resident) -> iterable of Referral`
  (read: public_id, direction, status, urgency, from_institution.name, to_institution(_id),
  to_department.name, appointment.date); until it exists, the open non-draft rows of
  `referrals.models.Referral` (OPEN_STATUSES).
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


def _name_of(obj: Any, *path: str) -> str | None:
    for attribute in path:
        obj = getattr(obj, attribute, None)
        if obj is None:
            return None
    return str(obj)


def _contract_summary(resident: Resident) -> dict[str, Any] | None:
    try:
        from signing import selectors as signing_selectors
    except ImportError:
        return None
    active_contract_for = getattr(signing_selectors, "active_contract_for", None)
    if active_contract_for is None:
        return None
    contract = active_contract_for(resident)
    if contract is None:
        return None
    return {
        "id": getattr(contract, "public_id", None),
        "status": _name_of(contract, "status"),
        "start_date": getattr(contract, "start_date", None),
        "end_date": getattr(contract, "end_date", None),
        "team": _name_of(contract, "team", "name"),
        "team_institution": _name_of(contract, "team", "institution", "name"),
    }


def _open_referrals(resident: Resident) -> list[tuple[dict[str, Any], int | None]]:
    try:
        from referrals import selectors as referral_selectors
    except ImportError:
        return []
    referrals_open_for_resident = getattr(referral_selectors, "referrals_open_for_resident", None)
    if referrals_open_for_resident is not None:
        referrals = referrals_open_for_resident(resident)
    else:
        referrals = _open_referrals_from_model(resident)
    return [
        (
            {
                "id": getattr(referral, "public_id", None),
                "direction": _name_of(referral, "direction"),
                "status": _name_of(referral, "status"),
                "urgency": _name_of(referral, "urgency"),
                "from_institution": _name_of(referral, "from_institution", "name"),
                "to_institution": _name_of(referral, "to_institution", "name"),
                "to_department": _name_of(referral, "to_department", "name"),
                "appointment_date": getattr(getattr(referral, "appointment", None), "date", None),
            },
            getattr(referral, "to_institution_id", None),
        )
        for referral in referrals
    ]


def _open_referrals_from_model(resident: Resident) -> Any:
    """Until the referrals app offers its selector: its open referrals, drafts left out (the
    resident has not been referred yet)."""
    try:
        from referrals.models import OPEN_STATUSES, Referral
    except ImportError:
        return []
    return (
        Referral.objects.filter(resident=resident, status__in=OPEN_STATUSES)
        .exclude(status="draft")
        .select_related("from_institution", "to_institution", "to_department", "appointment")
        .order_by("created_at")
    )
