"""API of the register over time (docs/design.md §3, §7), on the residents router: a resident's
move, death and key-population tags, their registration periods, and the admission and
discharge of an inpatient stay. Each endpoint checks the role first (403, before any lookup),
then finds the resident the caller's institution concerns (else 404), then calls one service of
healthnet.register."""

from __future__ import annotations

import datetime as dt
import uuid

from ninja import Field, Schema

from healthnet import permissions, selectors, services
from healthnet.api import ResidentViewOut, resident_view, residents_router
from healthnet.errors import Forbidden, NotFound
from healthnet.models import (
    Encounter,
    EncounterKind,
    KeyPopulation,
    RegistrationEnd,
    Resident,
    User,
)
from healthnet.populations import POPULATIONS_FORBIDDEN, POPULATIONS_FORBIDDEN_MESSAGE


class ResidentMoveIn(Schema):
    on: dt.date = Field(..., description="the first day at the new place (not in the future)")
    district: str = Field(
        "", max_length=32, description="the district moved to; empty: moved away from the city"
    )


class ResidentDeathIn(Schema):
    died_on: dt.date = Field(..., description="the day of death (not in the future)")


class ResidentPopulationsIn(Schema):
    populations: list[KeyPopulation] = Field(
        ...,
        max_length=20,
        description="the registry key populations held from `on` (not the age groups)",
    )
    on: dt.date = Field(..., description="the day the change applies from (not in the future)")


class RegistrationOut(Schema):
    district: str = Field(..., alias="district_id", description="district code")
    valid_from: dt.date
    valid_to: dt.date | None = Field(None, description="the last day (included); null: current")
    ended_reason: RegistrationEnd | None = None

    @staticmethod
    def resolve_ended_reason(obj) -> str | None:
        return obj.ended_reason or None


class InpatientIn(Schema):
    at: dt.datetime | None = Field(None, description="when (default now; timezone-aware)")


class EncounterOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    kind: EncounterKind
    institution: str = Field(..., alias="institution.code")
    started_at: dt.datetime
    ended_at: dt.datetime | None
    admitted_at: dt.datetime | None
    discharged_at: dt.datetime | None


def _resident_to_update(user: User, resident_id: uuid.UUID) -> Resident:
    if not permissions.can_update_residents(user):
        raise Forbidden(
            "forbidden", "您的角色不能变更居民档案 (your role may not update residents)"
        )
    resident = selectors.resident_by_public_id(resident_id)
    if not selectors.resident_related_to_institution(resident, user.institution_id):
        raise selectors.resident_not_found()
    return resident


@residents_router.post("/{uuid:resident_id}/move", response=ResidentViewOut)
def resident_move(request, resident_id: uuid.UUID, payload: ResidentMoveIn):
    """Record a move to another district (on that district's register from `on`), away from
    the city (`district` empty), or back to the city after moving away (`district` given).
    409 `resident_deceased` / `not_registered`; 422 `same_district`, `district_unknown`,
    `date_in_future`, `date_too_early`."""
    resident = _resident_to_update(request.user, resident_id)
    services.resident_move(
        actor=request.user, resident=resident, on=payload.on, district=payload.district
    )
    return resident_view(request.user, selectors.resident_by_public_id(resident_id))


@residents_router.post("/{uuid:resident_id}/death", response=ResidentViewOut)
def resident_death(request, resident_id: uuid.UUID, payload: ResidentDeathIn):
    """Record a death: the registration and the key-population tags end that day. 409
    `resident_deceased` when already recorded."""
    resident = _resident_to_update(request.user, resident_id)
    services.resident_death_record(actor=request.user, resident=resident, died_on=payload.died_on)
    return resident_view(request.user, selectors.resident_by_public_id(resident_id))


@residents_router.post("/{uuid:resident_id}/populations", response=ResidentViewOut)
def resident_populations(request, resident_id: uuid.UUID, payload: ResidentPopulationsIn):
    """Set the resident's registry key populations from `on`: new ones are tagged from that day,
    the ones left out end the day before (their history stays). 422 `population_derived` for an
    age group; 403 `populations_forbidden` for a role that does not read health data (the
    desk, the pharmacy, the institution admin)."""
    if not permissions.can_set_key_populations(request.user):  # the role alone answers
        raise Forbidden(POPULATIONS_FORBIDDEN, POPULATIONS_FORBIDDEN_MESSAGE)
    resident = _resident_to_update(request.user, resident_id)
    services.resident_populations_set(
        actor=request.user,
        resident=resident,
        populations=[str(p) for p in payload.populations],
        on=payload.on,
    )
    return resident_view(request.user, selectors.resident_by_public_id(resident_id))


@residents_router.get("/{uuid:resident_id}/registrations", response=list[RegistrationOut])
def resident_registrations(request, resident_id: uuid.UUID):
    """The resident's registration periods, oldest first (who may read the resident)."""
    if not permissions.can_read_residents(request.user):
        raise Forbidden("forbidden", "您的角色不能查看居民档案 (your role may not read residents)")
    resident = selectors.resident_visible_to(request.user, resident_id)
    return list(selectors.registrations_of_resident(resident))


def _encounter_for_ward(user: User, resident_id: uuid.UUID, encounter_id: uuid.UUID) -> Encounter:
    if not permissions.can_record_inpatient(user):
        raise Forbidden(
            "forbidden", "您的角色不能办理入出院 (your role may not admit or discharge)"
        )
    encounter = selectors.encounter_at_institution(encounter_id, institution_id=user.institution_id)
    if encounter is None or encounter.resident.public_id != resident_id:
        raise NotFound("encounter_not_found", "就诊记录不存在 (no such encounter)")
    return encounter


@residents_router.post(
    "/{uuid:resident_id}/encounters/{uuid:encounter_id}/admit", response=EncounterOut
)
def inpatient_admit(request, resident_id: uuid.UUID, encounter_id: uuid.UUID, payload: InpatientIn):
    """Admit the patient of a visit at the caller's institution (入院): the visit becomes an
    inpatient stay. 409 `already_admitted`."""
    encounter = _encounter_for_ward(request.user, resident_id, encounter_id)
    services.inpatient_admit(actor=request.user, encounter=encounter, at=payload.at)
    return selectors.encounter_at_institution(
        encounter_id, institution_id=request.user.institution_id
    )


@residents_router.post(
    "/{uuid:resident_id}/encounters/{uuid:encounter_id}/discharge", response=EncounterOut
)
def inpatient_discharge(
    request, resident_id: uuid.UUID, encounter_id: uuid.UUID, payload: InpatientIn
):
    """Discharge an inpatient (出院): the stay ends. 409 `not_admitted`, `already_discharged`."""
    encounter = _encounter_for_ward(request.user, resident_id, encounter_id)
    services.inpatient_discharge(actor=request.user, encounter=encounter, at=payload.at)
    return selectors.encounter_at_institution(
        encounter_id, institution_id=request.user.institution_id
    )
