"""Reads of the health-code app, with their joins decided here once.

The scan summary reads the resident's contract (signing.selectors.active_contract_for) and open
referrals (referrals.selectors.referrals_open_for_resident) through those apps' selectors.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db.models import QuerySet

from healthcodes import permissions
from healthcodes.models import FamilyCodeIssue, HealthCard, ScanEvent
from healthnet.models import Resident, User
from healthnet.national_id import resident_national_id_masked
from healthnet.permissions import can_read_resident_clinical
from healthnet.populations import age_on, resident_key_populations
from referrals.selectors import referrals_open_for_resident
from signing.selectors import active_contract_for

if TYPE_CHECKING:  # the rows come from those apps' selectors; only their types are named here
    from referrals.models import Referral
    from signing.models import Contract


def healthcard_current(*, resident: Resident) -> HealthCard | None:
    return HealthCard.objects.filter(resident=resident, revoked_at__isnull=True).first()


def healthcard_current_of(resident: Resident) -> HealthCard | None:
    """healthcard_current as a hook (healthnet.hooks.RESIDENT_CARD_CURRENT)."""
    return healthcard_current(resident=resident)


def healthcard_by_sub(*, sub: str) -> HealthCard | None:
    """The card a scanned code names, with its resident and their registry tags (one query
    each), everything the scan needs."""
    return (
        HealthCard.objects.select_related("resident")
        .prefetch_related("resident__population_tags")
        .filter(sub=sub)
        .first()
    )


def family_code_presenter_id(*, card: HealthCard, cti: bytes) -> int | None:
    """The resident (pk) whose phone showed this code of the card as a family code, if it was
    one (healthcodes.services.family)."""
    return (
        FamilyCodeIssue.objects.filter(card=card, cti=cti.hex())
        .values_list("presented_by_id", flat=True)
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
    return qs.select_related("scanned_by", "resident", "encounter", "presented_by").order_by(
        "-at", "-pk"
    )


# --- the resident summary a scan shows ---------------------------------------------------------


@dataclass(frozen=True)
class ScanSummary:
    """What a scan shows of the resident (healthcodes.api.ResidentSummaryOut reads it): identity,
    the contract (None when unsigned or not for this role), open referrals and today's
    appointments at the scanning institution (empty when not for this role)."""

    resident_id: uuid.UUID
    name: str
    sex: str
    age: int
    national_id_masked: str
    key_populations: list[str]
    contract: Contract | None = None
    referrals: list[Referral] = field(default_factory=list)
    appointments_today: list[Referral] = field(default_factory=list)


def scan_summary(*, user: User, resident: Resident, on: dt.date) -> ScanSummary:
    """What the scanning role may see of the resident (healthcodes.permissions): identity with the
    ID masked for everyone; the key populations (health tags) for the roles that read the
    clinical view (healthnet.permissions.can_read_resident_clinical), none for the others;
    contract and team; referrals and today's appointments for the roles that register, treat or
    route patients."""
    contract = active_contract_for(resident) if permissions.can_see_scan_contract(user) else None
    referrals = (
        list(referrals_open_for_resident(resident))
        if permissions.can_see_scan_referrals(user)
        else []
    )
    return ScanSummary(
        resident_id=resident.public_id,
        name=resident.name,
        sex=resident.sex,
        age=age_on(resident.birth_date, on),
        national_id_masked=resident_national_id_masked(resident),
        key_populations=(
            resident_key_populations(resident, on=on) if can_read_resident_clinical(user) else []
        ),
        contract=contract,
        referrals=referrals,
        appointments_today=[
            referral
            for referral in referrals
            if referral.appointment_date == on and referral.to_institution_id == user.institution_id
        ],
    )
