"""The register over time (docs/design.md §3, §7): the services that record a resident's move, a
death, a key-population tag's start and end, and an inpatient stay's admission and discharge.

Each keeps the dated rows the reports read (ResidentRegistration, ResidentPopulationTag validity,
Resident.died_on, Encounter.admitted_at / discharged_at) and its audit row in one transaction,
and refuses bad input before writing anything. Days are calendar days in Asia/Shanghai; a
period's `valid_to` is its last day (included). Re-exported by healthnet.services.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from healthnet import permissions
from healthnet.errors import Conflict, Forbidden, InvalidInput, NotFound
from healthnet.hooks import RESIDENT_LEFT
from healthnet.models import (
    AGE_DERIVED_POPULATIONS,
    Encounter,
    EncounterKind,
    KeyPopulation,
    RegistrationEnd,
    Resident,
    ResidentPopulationTag,
    ResidentRegistration,
    User,
)
from healthnet.populations import POPULATIONS_FORBIDDEN, POPULATIONS_FORBIDDEN_MESSAGE
from healthnet.selectors import (
    district_by_code,
    resident_not_found,
    resident_related_to_institution,
)

DAY = dt.timedelta(days=1)


# --- who may ------------------------------------------------------------------------------------


def register_change_require(actor: User | None, resident: Resident) -> None:
    """Staff who may update the register, of an institution the resident concerns (else the same
    404 as an unknown resident). No actor: the system (imports, demo data)."""
    if actor is None:
        return
    if not permissions.can_update_residents(actor):
        raise Forbidden(
            "forbidden", "您的角色不能变更居民档案 (your role may not update residents)"
        )
    if not resident_related_to_institution(resident, actor.institution_id):
        raise resident_not_found()


def _day_check(day: dt.date, *, field: str, not_before: dt.date | None = None) -> None:
    if day > timezone.localdate():
        raise InvalidInput(
            "date_in_future", "日期不能在未来 (the day cannot be in the future)", field=field
        )
    if not_before is not None and day < not_before:
        raise InvalidInput(
            "date_too_early",
            f"日期不能早于 {not_before} (the day cannot be before {not_before})",
            field=field,
            not_before=not_before.isoformat(),
        )


def _lock(resident: Resident) -> Resident:
    return Resident.objects.select_for_update().get(pk=resident.pk)


def _alive_check(resident: Resident) -> None:
    if resident.died_on is not None:
        raise Conflict(
            "resident_deceased",
            "该居民已登记死亡 (the resident's death is recorded)",
            died_on=resident.died_on.isoformat(),
        )


def _open_registration(resident: Resident) -> ResidentRegistration | None:
    return (
        ResidentRegistration.objects.select_for_update()
        .filter(resident=resident, valid_to__isnull=True)
        .first()
    )


def _end_registration(period: ResidentRegistration, *, last_day: dt.date, reason: str) -> None:
    """End a period on `last_day`; a period that would end before it began never applied and is
    removed (a move recorded for the day it started)."""
    if last_day < period.valid_from:
        period.delete()
        return
    period.valid_to = last_day
    period.ended_reason = reason
    period.save(update_fields=["valid_to", "ended_reason"])


def _left(resident: Resident, reason: str, actor: User | None) -> None:
    """Tell the apps above (healthnet.hooks.RESIDENT_LEFT: signing ends the contracts)."""
    for hook in list(RESIDENT_LEFT):
        hook(resident, reason, actor)


def _audit(actor: User | None, action: str, resident: Resident, details: dict) -> None:
    from healthnet.services import audit_record

    audit_record(
        actor=actor,
        action=action,
        object_type="resident",
        object_id=resident.public_id,
        details=details,
    )


# --- registration periods -----------------------------------------------------------------------


def registration_start(*, resident: Resident, district: str, on: dt.date) -> ResidentRegistration:
    """The first registration period of a new resident (resident_create calls it, in its
    transaction)."""
    return ResidentRegistration.objects.create(
        resident=resident, district_id=district, valid_from=on
    )


def resident_move(
    *, actor: User | None, resident: Resident, on: dt.date, district: str = ""
) -> Resident:
    """Record a move on day `on` (the first day at the new place): to another district of the city
    (`district`: its code; the resident is on that district's register from `on`, on the old one's
    until the day before), or away from the city (`district` ""; off the register from `on`).
    Refused: the resident's death is recorded (409), not on the register (409 `not_registered`),
    the same district (422), a day in the future or before the current period began (422)."""
    register_change_require(actor, resident)
    if district:
        district_by_code(district, active_only=True)  # district_unknown
    with transaction.atomic():
        resident = _lock(resident)
        _alive_check(resident)
        period = _open_registration(resident)
        if period is None:
            if not district:
                raise Conflict(
                    "not_registered", "该居民已不在本市登记 (the resident has moved away)"
                )
            return _move_back(actor, resident, on=on, district=district)
        _day_check(on, field="on", not_before=period.valid_from)
        if district == period.district_id:
            raise InvalidInput(
                "same_district", "迁入区与现登记区相同 (already registered there)", field="district"
            )
        previous = period.district_id
        reason = RegistrationEnd.MOVED_DISTRICT if district else RegistrationEnd.MOVED_AWAY
        _end_registration(period, last_day=on - DAY, reason=reason)
        if not district:
            _left(resident, RegistrationEnd.MOVED_AWAY, actor)
        if district:
            ResidentRegistration.objects.create(
                resident=resident, district_id=district, valid_from=on
            )
            resident.district_id = district
            resident.save(update_fields=["district", "updated_at"])
        _audit(
            actor,
            "resident_move",
            resident,
            {"on": on.isoformat(), "from": previous, "to": district or "away"},
        )
    return resident


def _move_back(actor: User | None, resident: Resident, *, on: dt.date, district: str) -> Resident:
    """A resident who had moved away comes back (迁回): a new period from `on`, after the last."""
    last_day = (
        ResidentRegistration.objects.filter(resident=resident)
        .order_by("-valid_to")
        .values_list("valid_to", flat=True)
        .first()
    )
    _day_check(on, field="on", not_before=last_day + DAY if last_day else None)
    ResidentRegistration.objects.create(resident=resident, district_id=district, valid_from=on)
    resident.district_id = district
    resident.save(update_fields=["district", "updated_at"])
    _audit(actor, "resident_move", resident, {"on": on.isoformat(), "from": "away", "to": district})
    return resident


def resident_death_record(*, actor: User | None, resident: Resident, died_on: dt.date) -> Resident:
    """Record a death: `died_on` is kept, and the registration and the open key-population tags
    end that day (the day of death still counts). Refused: already recorded (409), a day in the
    future, before the birth or before the current registration began (422)."""
    register_change_require(actor, resident)
    with transaction.atomic():
        resident = _lock(resident)
        _alive_check(resident)
        period = _open_registration(resident)
        not_before = period.valid_from if period is not None else resident.birth_date
        _day_check(died_on, field="died_on", not_before=max(not_before, resident.birth_date))
        resident.died_on = died_on
        resident.save(update_fields=["died_on", "updated_at"])
        if period is not None:
            _end_registration(period, last_day=died_on, reason=RegistrationEnd.DIED)
        for tag in ResidentPopulationTag.objects.select_for_update().filter(
            resident=resident, valid_to__isnull=True
        ):
            _end_tag(tag, last_day=died_on)
        _left(resident, RegistrationEnd.DIED, actor)
        _audit(actor, "resident_death", resident, {"died_on": died_on.isoformat()})
    return resident


# --- key-population tags ------------------------------------------------------------------------


def registry_population_check(population: str, *, field: str = "population") -> None:
    if population not in KeyPopulation.values:
        raise InvalidInput("population_unknown", f"未知的重点人群: {population}", field=field)
    if population in AGE_DERIVED_POPULATIONS:
        raise InvalidInput(
            "population_derived",
            "65岁以上和0-6岁儿童由出生日期推算，不能手工标记"
            " (age groups are derived from the birth date)",
            field=field,
        )


def _end_tag(tag: ResidentPopulationTag, *, last_day: dt.date) -> None:
    if tag.valid_from is not None and last_day < tag.valid_from:  # it never applied
        tag.delete()
        return
    tag.valid_to = last_day
    tag.save(update_fields=["valid_to"])


def _populations_require(actor: User | None) -> None:
    """Key-population tags are health data: a role that does not read them may not set them
    (403 `populations_forbidden`, asked before the resident is looked up)."""
    if actor is not None and not permissions.can_set_key_populations(actor):
        raise Forbidden(POPULATIONS_FORBIDDEN, POPULATIONS_FORBIDDEN_MESSAGE)


def population_tag_add(
    *, actor: User | None, resident: Resident, population: str, on: dt.date
) -> ResidentPopulationTag:
    """Tag the resident with a registry key population from day `on`. Refused: an age group or an
    unknown one (422), already tagged (409 `population_tag_open`), `on` in the future or not after
    the last day of an earlier tag of the same population (422), the resident dead (409)."""
    registry_population_check(population)
    _populations_require(actor)
    register_change_require(actor, resident)
    with transaction.atomic():
        resident = _lock(resident)
        _alive_check(resident)
        tags = ResidentPopulationTag.objects.filter(resident=resident, population=population)
        if tags.filter(valid_to__isnull=True).exists():
            raise Conflict("population_tag_open", f"已标记为该重点人群: {population}")
        last_end = tags.order_by("-valid_to").values_list("valid_to", flat=True).first()
        _day_check(on, field="on", not_before=last_end + DAY if last_end else None)
        tag = ResidentPopulationTag.objects.create(
            resident=resident, population=population, valid_from=on
        )
        _audit(
            actor, "population_tag_add", resident, {"population": population, "on": on.isoformat()}
        )
    return tag


def population_tag_end(
    *, actor: User | None, resident: Resident, population: str, on: dt.date
) -> ResidentPopulationTag | None:
    """End the resident's tag of a key population: `on` is the first day it no longer applies
    (its last day is the day before). A tag ended on the day it began never applied and is removed
    (None is returned). Refused: no such open tag (404), `on` in the future or before the tag began
    (422)."""
    registry_population_check(population)
    _populations_require(actor)
    register_change_require(actor, resident)
    with transaction.atomic():
        resident = _lock(resident)
        tag = (
            ResidentPopulationTag.objects.select_for_update()
            .filter(resident=resident, population=population, valid_to__isnull=True)
            .first()
        )
        if tag is None:
            raise NotFound("population_tag_not_found", f"未标记为该重点人群: {population}")
        _day_check(on, field="on", not_before=tag.valid_from)
        _end_tag(tag, last_day=on - DAY)
        _audit(
            actor, "population_tag_end", resident, {"population": population, "on": on.isoformat()}
        )
    return tag if tag.pk is not None else None


def resident_populations_set(
    *, actor: User | None, resident: Resident, populations: list[str], on: dt.date
) -> list[str]:
    """Make the resident's registry tags from `on` exactly `populations`: tag the new ones, end the
    ones left out (one transaction). Returns the populations now open, sorted."""
    for population in populations:
        registry_population_check(population, field="populations")
    wanted = set(populations)
    _populations_require(actor)
    register_change_require(actor, resident)
    with transaction.atomic():
        current = set(
            ResidentPopulationTag.objects.filter(
                resident=resident, valid_to__isnull=True
            ).values_list("population", flat=True)
        )
        for population in sorted(current - wanted):
            population_tag_end(actor=actor, resident=resident, population=population, on=on)
        for population in sorted(wanted - current):
            population_tag_add(actor=actor, resident=resident, population=population, on=on)
    return sorted(wanted)


# --- inpatient stays ----------------------------------------------------------------------------


def _encounter_change_require(actor: User | None, encounter: Encounter) -> None:
    """Ward staff of the encounter's own institution (another institution's encounter: 404)."""
    if actor is None:
        return
    if not permissions.can_record_inpatient(actor):
        raise Forbidden(
            "forbidden", "您的角色不能办理入出院 (your role may not admit or discharge)"
        )
    if actor.institution_id != encounter.institution_id:
        raise NotFound("encounter_not_found", "就诊记录不存在 (no such encounter)")


def _moment_check(at: dt.datetime, *, field: str, not_before: dt.datetime) -> None:
    if timezone.is_naive(at):
        raise InvalidInput("time_naive", "时间须带时区 (a timezone-aware time)", field=field)
    if at > timezone.now() + dt.timedelta(minutes=5):
        raise InvalidInput(
            "time_in_future", "时间不能在未来 (the time cannot be in the future)", field=field
        )
    if at < not_before:
        raise InvalidInput(
            "time_too_early",
            f"时间不能早于 {not_before.isoformat()} (too early)",
            field=field,
            not_before=not_before.isoformat(),
        )


def _lock_encounter(encounter: Encounter) -> Encounter:
    locked = Encounter.objects.select_for_update().filter(pk=encounter.pk).first()
    if locked is None:
        raise NotFound("encounter_not_found", "就诊记录不存在 (no such encounter)")
    return locked


def inpatient_admit(
    *, actor: User | None, encounter: Encounter, at: dt.datetime | None = None
) -> Encounter:
    """Admit the patient of an encounter (入院): it becomes an inpatient stay from `at` (default
    now, not before the encounter began). Refused: already admitted (409 `already_admitted`)."""
    _encounter_change_require(actor, encounter)
    at = at or timezone.now()
    with transaction.atomic():
        encounter = _lock_encounter(encounter)
        if encounter.admitted_at is not None:
            raise Conflict("already_admitted", "已办理入院 (already admitted)")
        _moment_check(at, field="admitted_at", not_before=encounter.started_at)
        encounter.kind = EncounterKind.INPATIENT
        encounter.admitted_at = at
        encounter.save(update_fields=["kind", "admitted_at"])
        _audit_encounter(actor, "inpatient_admit", encounter, at)
    return encounter


def inpatient_discharge(
    *, actor: User | None, encounter: Encounter, at: dt.datetime | None = None
) -> Encounter:
    """Discharge an inpatient (出院) at `at` (default now, not before the admission): the stay and
    the encounter end then. A discharge is what the inpatient downward share divides by. Refused:
    not admitted (409 `not_admitted`), already discharged (409 `already_discharged`)."""
    _encounter_change_require(actor, encounter)
    at = at or timezone.now()
    with transaction.atomic():
        encounter = _lock_encounter(encounter)
        if encounter.admitted_at is None:
            raise Conflict("not_admitted", "尚未入院 (the patient was not admitted)")
        if encounter.discharged_at is not None:
            raise Conflict("already_discharged", "已办理出院 (already discharged)")
        _moment_check(at, field="discharged_at", not_before=encounter.admitted_at)
        encounter.discharged_at = at
        encounter.ended_at = at
        encounter.save(update_fields=["discharged_at", "ended_at"])
        _audit_encounter(actor, "inpatient_discharge", encounter, at)
    return encounter


def _audit_encounter(
    actor: User | None, action: str, encounter: Encounter, at: dt.datetime
) -> None:
    from healthnet.services import audit_record

    audit_record(
        actor=actor,
        action=action,
        object_type="encounter",
        object_id=encounter.public_id,
        details={"at": at.isoformat()},
    )
