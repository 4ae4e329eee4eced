"""Encounters over the 12 months before `today`: outpatient ≫ emergency > inpatient, about 60 %
of visits at primary institutions (the bureau's 基层就诊率), mostly in the resident's district,
more often for the old, the very young and the chronically ill; a growing share registered by
scanning the health code (source "scan"); inpatient stays admitted and discharged."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from demo.network import InstitutionView, NetworkView
from demo.people import (
    PREGNANT,
    SEVERE_MENTAL_ILLNESS,
    TUBERCULOSIS,
    ResidentCohort,
    random_uuid_hex,
)
from healthnet.bulk import rows_writer
from healthnet.models import Encounter, EncounterKind

SOURCE = "demo"
# Registrations made by scanning the health code (the scan opens the visit with source "scan",
# healthcodes.services.scan): a share of outpatient and emergency visits growing over the year
# as the code is adopted. Decided from the visit's (random) public id: no extra draw.
SCAN_SOURCE = "scan"
SCAN_SHARE_FROM, SCAN_SHARE_TO = 0.25, 0.55
LOCAL_OFFSET = dt.timedelta(hours=8)  # Asia/Shanghai has no daylight saving

# Kind mix and, per kind, the chance that the visit is at a primary institution. Outpatient care
# dominates; emergencies and admissions go mostly to hospitals. Overall primary share ≈ 0.60.
EMERGENCY_SHARE = 0.06
INPATIENT_SHARE = {False: 0.03, True: 0.07}  # keyed by "65 or older"
PRIMARY_SHARE: dict[str, float] = {  # by encounter kind (its text)
    EncounterKind.OUTPATIENT: 0.655,
    EncounterKind.EMERGENCY: 0.12,
    EncounterKind.INPATIENT: 0.08,
}
HOME_PRIMARY_SHARE = 0.85  # of primary visits, at the resident's own community centre
DISTRICT_PRIMARY_SHARE = 0.10  # at another primary institution of the same district
SAME_DISTRICT_HOSPITAL_WEIGHT = 3.0
OTHER_DISTRICT_HOSPITAL_WEIGHT = 0.3
VISIT_DISPERSION = 2.0  # gamma shape: some people visit far more often than others

# Residents of a registry go to the matching specialist hospital when the city has one.
SPECIALIST_KEYWORDS: list[tuple[int, tuple[str, ...]]] = [
    (TUBERCULOSIS, ("infectious", "传染", "结核", "胸科")),
    (SEVERE_MENTAL_ILLNESS, ("mental", "psychiatr", "精神", "康宁")),
    (PREGNANT, ("maternal", "妇幼", "妇产")),
]
EMERGENCY_WORDS = ("emergency", "急诊")
NOT_FOR_VISITS = ("pharmacy", "药剂", "laboratory", "检验", "imaging", "影像", "radiology")


@dataclass
class _Pick:
    """A cumulative-weight table: `pick(u)` maps a uniform draw to an item."""

    items: list
    cumulative: list[float]

    @classmethod
    def of(cls, weighted: Sequence[tuple[object, float]]) -> _Pick | None:
        weighted = [(item, weight) for item, weight in weighted if weight > 0]
        if not weighted:
            return None
        return cls(
            items=[item for item, _ in weighted],
            cumulative=list(itertools.accumulate(weight for _, weight in weighted)),
        )

    def pick(self, draw: float):
        return self.items[
            min(bisect.bisect(self.cumulative, draw * self.cumulative[-1]), len(self.items) - 1)
        ]


def _department_tables(institution: InstitutionView) -> dict[str, _Pick | None]:
    def text(department) -> str:
        return f"{department.code} {department.specialty} {department.name}".lower()

    clinical = [d for d in institution.departments if not any(w in text(d) for w in NOT_FOR_VISITS)]
    clinical = clinical or institution.departments
    emergency = [d for d in clinical if any(w in text(d) for w in EMERGENCY_WORDS)]
    regular = [d for d in clinical if d not in emergency] or clinical

    def weight(department) -> float:
        words = text(department)
        common = ("general_practice", "general-practice", "全科", "internal")
        return 3.0 if any(word in words for word in common) else 1.0

    return {
        EncounterKind.OUTPATIENT: _Pick.of([(d.id, weight(d)) for d in regular]),
        EncounterKind.EMERGENCY: _Pick.of([(d.id, 1.0) for d in emergency or regular]),
        EncounterKind.INPATIENT: _Pick.of([(d.id, weight(d)) for d in regular]),
    }


def _day_table(today: dt.date) -> tuple[list[dt.datetime], _Pick]:
    """The 365 days before `today` as UTC instants of local midnight, weighted: fewer visits at
    weekends, more in the winter flu season."""
    days = []
    weighted = []
    for back in range(365, 0, -1):
        day = today - dt.timedelta(days=back)
        weight = {5: 0.6, 6: 0.45}.get(day.weekday(), 1.0)
        if day.month in (12, 1, 2):
            weight *= 1.15
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) - LOCAL_OFFSET
        days.append(midnight)
        weighted.append((len(days) - 1, weight))
    pick = _Pick.of(weighted)
    if pick is None:  # every day weighs more than nothing
        raise ValueError("no day to draw from")
    return days, pick


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    count = 0
    product = rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def generate_encounters(
    *,
    cohort: ResidentCohort,
    seed: int | str,
    today: dt.date,
    per_resident: float,
    network: NetworkView,
    progress: Callable[[int], None],
) -> int:
    """Write about `per_resident × residents` encounters; return how many."""
    rng = random.Random(f"{seed}:encounters")  # noqa: S311 - reproducible demo data
    rand = rng.random
    institutions = network.institutions
    primaries = network.primaries
    hospitals = network.hospitals
    primary_by_district = [
        [institutions.index(p) for p in network.primaries_in(d)] for d in cohort.districts
    ]
    any_primary = [institutions.index(p) for p in primaries]
    hospital_by_district = [
        _Pick.of(
            [
                (
                    institutions.index(h),
                    max(h.beds, 20)
                    * (
                        1.0
                        if h.tier != "district"
                        else SAME_DISTRICT_HOSPITAL_WEIGHT
                        if h.district == district
                        else OTHER_DISTRICT_HOSPITAL_WEIGHT
                    ),
                )
                for h in hospitals
            ]
        )
        for district in cohort.districts
    ]
    specialists = [
        (bit, [institutions.index(h) for h in hospitals if h.matches(words)])
        for bit, words in SPECIALIST_KEYWORDS
    ]
    specialists = [(bit, found) for bit, found in specialists if found]
    departments = [_department_tables(institution) for institution in institutions]
    institution_ids = [institution.id for institution in institutions]
    days, day_pick = _day_table(today)
    now_cutoff = days[-1] + dt.timedelta(days=1)

    total_weight = sum(cohort.visit_weight) or 1.0
    scale = per_resident * cohort.count / total_weight
    outpatient, emergency, inpatient = (
        EncounterKind.OUTPATIENT.value,
        EncounterKind.EMERGENCY.value,
        EncounterKind.INPATIENT.value,
    )
    written = 0
    with rows_writer(Encounter, build_indexes_after=True) as write:
        for offset in range(cohort.count):
            mean = cohort.visit_weight[offset] * scale
            visits = _poisson(rng, mean * rng.gammavariate(VISIT_DISPERSION, 1 / VISIT_DISPERSION))
            if visits:
                resident_id = cohort.ids[offset]
                district = cohort.district[offset]
                home = cohort.home[offset]
                elderly = cohort.age[offset] >= 65
                tags = cohort.tags[offset]
                # Only while on the register (demo/register.py): the draws are made either way.
                first = _local_midnight(cohort.registered_from[offset])
                left = cohort.left_on[offset]
                last = _local_midnight(left + 1) if left else now_cutoff
                for _ in range(visits):
                    draw = rand()
                    if draw < INPATIENT_SHARE[elderly]:
                        kind = inpatient
                    elif draw < INPATIENT_SHARE[elderly] + EMERGENCY_SHARE:
                        kind = emergency
                    else:
                        kind = outpatient
                    index = _institution_for(
                        rand,
                        kind,
                        home,
                        primary_by_district[district],
                        any_primary,
                        hospital_by_district[district],
                        specialists,
                        tags,
                    )
                    table = departments[index][kind]
                    day_index = day_pick.pick(rand())
                    started = days[day_index]
                    if kind == outpatient:
                        started += dt.timedelta(seconds=_clinic_seconds(rand))
                        ended = started + dt.timedelta(minutes=10 + int(rand() * 50))
                    elif kind == emergency:
                        started += dt.timedelta(seconds=int(rand() * 86400))
                        ended = started + dt.timedelta(minutes=60 + int(rand() * 420))
                    else:
                        started += dt.timedelta(seconds=8 * 3600 + int(rand() * 36000))
                        stay = 1.0 + rng.gammavariate(2.0, 4.0)  # about 9 days
                        ended = started + dt.timedelta(days=stay)
                        if ended >= now_cutoff:
                            ended = None  # still in hospital
                    public_id = random_uuid_hex(rng)
                    department_id = table.pick(rand()) if table else None
                    if not first <= started < last:
                        continue
                    stay = kind == inpatient
                    scanned = not stay and int(public_id[:4], 16) < 65536 * (
                        SCAN_SHARE_FROM + (SCAN_SHARE_TO - SCAN_SHARE_FROM) * day_index / 365
                    )
                    write(
                        public_id=public_id,
                        resident_id=resident_id,
                        institution_id=institution_ids[index],
                        department_id=department_id,
                        kind=kind,
                        started_at=started,
                        ended_at=ended,
                        # an inpatient stay: admitted on arrival, discharged when it ended
                        admitted_at=started if stay else None,
                        discharged_at=ended if stay else None,
                        source=SCAN_SOURCE if scanned else SOURCE,
                    )
                    written += 1
            if offset % 5000 == 4999:
                progress(5000)
    progress(cohort.count % 5000)
    return written


def _local_midnight(ordinal: int) -> dt.datetime:
    """The UTC instant of local midnight starting the day of this ordinal."""
    day = dt.date.fromordinal(ordinal)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) - LOCAL_OFFSET


def _clinic_seconds(rand: Callable[[], float]) -> int:
    """Clinic hours: 8:00–11:30 (most) and 14:00–17:30."""
    if rand() < 0.62:
        return 8 * 3600 + int(rand() * 12600)
    return 14 * 3600 + int(rand() * 12600)


def _institution_for(
    rand,
    kind: str,
    home: int,
    district_primaries: list[int],
    any_primary: list[int],
    hospital_pick: _Pick | None,
    specialists: list[tuple[int, list[int]]],
    tags: int,
) -> int:
    """Index of the institution visited."""
    if any_primary and (hospital_pick is None or rand() < PRIMARY_SHARE[kind]):
        draw = rand()
        if draw < HOME_PRIMARY_SHARE and home >= 0:
            return home
        if draw < HOME_PRIMARY_SHARE + DISTRICT_PRIMARY_SHARE:
            return district_primaries[int(rand() * len(district_primaries))]
        return any_primary[int(rand() * len(any_primary))]
    if tags and specialists:
        for bit, found in specialists:
            if tags & bit and rand() < 0.6:
                return found[int(rand() * len(found))]
    if hospital_pick is None:  # neither a primary institution nor a hospital to visit
        raise ValueError("a network without institutions has no visits")
    return hospital_pick.pick(rand())
