"""Residents and their registry tags: age/sex from the 2025 pyramid, district by population,
a community and its primary institution, valid and unique national ID numbers, Chinese names."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from stdnum.cn import ric

from demo import reference
from demo.network import NetworkView
from demo.register import RegisterHistory, tag_rows
from healthnet.bulk import rows_writer
from healthnet.models import KeyPopulation, Resident, ResidentPopulationTag
from healthnet.national_id import encrypt_national_id, make_national_id, national_id_hash

# Registry tags as bits of one byte per resident.
TAG_BITS: list[tuple[int, str]] = [
    (1, KeyPopulation.HYPERTENSION.value),
    (2, KeyPopulation.DIABETES.value),
    (4, KeyPopulation.TUBERCULOSIS.value),
    (8, KeyPopulation.SEVERE_MENTAL_ILLNESS.value),
    (16, KeyPopulation.PREGNANT.value),
    (32, KeyPopulation.DISABLED.value),
    (64, KeyPopulation.LOW_INCOME.value),
]
HYPERTENSION, DIABETES, TUBERCULOSIS, SEVERE_MENTAL_ILLNESS, PREGNANT, DISABLED, LOW_INCOME = (
    bit for bit, _ in TAG_BITS
)


@dataclass
class ResidentCohort:
    """What the later stages need of each generated resident, packed (a few bytes each): the
    resident with id `ids[i]` is index i of every array."""

    count: int
    ids: array  # the residents' primary keys
    district: array  # index into `districts`
    home: array  # index into NetworkView.institutions (-1: none)
    age: array
    tags: array  # TAG_BITS
    visit_weight: array
    districts: list[str]
    # The register over time (demo/register.py): the first day on the register, the day of a
    # move between districts (0: none) and the district before it (-1: none), the last day on the
    # register after moving away or dying (0: still registered) and why, as date ordinals.
    registered_from: array = field(default_factory=lambda: array("i"))
    moved_on: array = field(default_factory=lambda: array("i"))
    moved_from: array = field(default_factory=lambda: array("b"))
    left_on: array = field(default_factory=lambda: array("i"))
    left_reason: array = field(default_factory=lambda: array("b"))
    female: array = field(default_factory=lambda: array("b"))


class NameMaker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.surnames = [name for name, _ in reference.SURNAMES]
        self.surname_cumulative = list(
            itertools.accumulate(weight for _, weight in reference.SURNAMES)
        )

    def name(self, sex: str) -> str:
        rng = self.rng
        male = sex == "male"
        if rng.random() < reference.MONGOL_SHARE:
            pool = reference.MONGOL_NAMES_MALE if male else reference.MONGOL_NAMES_FEMALE
            return pool[int(rng.random() * len(pool))]
        surname = self.surnames[
            bisect.bisect(self.surname_cumulative, rng.random() * self.surname_cumulative[-1])
        ]
        given_pool = reference.MALE_GIVEN if male else reference.FEMALE_GIVEN
        size = len(given_pool)
        given = given_pool[int(rng.random() * size)]
        if rng.random() < 0.72:
            given += given_pool[int(rng.random() * size)]
        return surname + given


def random_uuid_hex(rng: random.Random) -> str:
    """A version-4 UUID (as 32 hex digits) drawn from the seeded generator: reproducible."""
    value = rng.getrandbits(128)
    value = (value & ~(0xF000 << 64)) | (0x4000 << 64)
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)
    return f"{value:032x}"


@lru_cache(maxsize=256)
def migrant_codes_for_year(year: int) -> tuple[str, ...]:
    """The other regions' codes python-stdnum accepts for people born in `year`."""
    born = dt.date(year, 6, 15)
    return tuple(
        code
        for code in reference.MIGRANT_REGION_CODES
        if ric.is_valid(make_national_id(region_code=code, birth_date=born, sequence=1, sex="male"))
    )


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def generate_residents(
    *,
    count: int,
    seed: int | str,
    today: dt.date,
    network: NetworkView,
    existing_hashes: set[str],
    progress: Callable[[int], None],
) -> ResidentCohort:
    """Write `count` residents (streaming, COPY on PostgreSQL) and return their packed cohort."""
    rng = random.Random(f"{seed}:residents")  # noqa: S311 - reproducible demo data
    names = NameMaker(rng)

    districts = sorted(network.district_population)
    district_cumulative = list(
        itertools.accumulate(network.district_population[d] for d in districts)
    )
    # Communities per district: (label, street, index of the primary institution serving it).
    institution_index = {inst.id: index for index, inst in enumerate(network.institutions)}
    communities: list[list[tuple[str, str, int]]] = []
    for district in districts:
        primaries = network.primaries_in(district)
        labels: list[tuple[str, str, int]] = []
        for street_number, street in enumerate(reference.STREETS.get(district, ["城区"])):
            for k in range(reference.COMMUNITIES_PER_STREET):
                word = reference.COMMUNITY_WORDS[
                    (street_number * reference.COMMUNITIES_PER_STREET + k)
                    % len(reference.COMMUNITY_WORDS)
                ]
                home = (
                    institution_index[primaries[len(labels) % len(primaries)].id]
                    if primaries
                    else -1
                )
                labels.append((f"{street}{word}社区", street, home))
        communities.append(labels)

    bands = reference.AGE_PYRAMID
    band_cumulative = list(itertools.accumulate(share for _, _, share in bands))
    anchors = [years_before(today, age) for age in range(101)]
    cohort = ResidentCohort(
        count=count,
        ids=array("q"),
        district=array("b"),
        home=array("h"),
        age=array("B"),
        tags=array("B"),
        visit_weight=array("f"),
        districts=districts,
    )
    used_numbers: set[str] = set()
    rand = rng.random
    # The register's dates come from their own stream: the residents do not shift with them.
    history = RegisterHistory(random.Random(f"{seed}:register"), today, len(districts))  # noqa: S311

    with rows_writer(Resident, build_indexes_after=True) as write:
        for offset in range(count):
            band = bands[bisect.bisect(band_cumulative, rand() * band_cumulative[-1])]
            age = band[0] + int(rand() * (band[1] - band[0] + 1))
            birth_date = anchors[age] - dt.timedelta(days=int(rand() * 365))
            if birth_date > today:  # pragma: no cover - anchors[0] is today
                birth_date = today
            sex = "male" if rand() < reference.male_share(age) else "female"
            district_index = bisect.bisect(district_cumulative, rand() * district_cumulative[-1])
            district = districts[district_index]
            community, street, home = communities[district_index][
                int(rand() * len(communities[district_index]))
            ]

            region = _region_code(rng, district, birth_date.year)
            number, digest = _unique_number(
                rng, region, birth_date, sex, used_numbers, existing_hashes
            )
            tags = _tags(rand, age, sex)
            weight = reference.visit_rate(age)
            if tags & (HYPERTENSION | DIABETES):
                weight *= 1.4
            if tags & PREGNANT:
                weight *= 1.5

            district_name = reference.DISTRICT_NAMES.get(district, "")
            address = (
                f"乌海市{district_name}{community}"
                f"{1 + int(rand() * 60)}号楼{1 + int(rand() * 6)}单元"
                f"{1 + int(rand() * 18)}{1 + int(rand() * 4):02d}室"
            )
            phone = reference.PHONE_PREFIXES[int(rand() * len(reference.PHONE_PREFIXES))] + (
                f"{int(rand() * 100_000_000):08d}"
            )
            died_on = history.add(cohort, birth_date, age, district_index)
            resident_id = write(
                public_id=random_uuid_hex(rng),
                national_id_encrypted=encrypt_national_id(number),
                national_id_hash=digest,
                name=names.name(sex),
                sex=sex,
                birth_date=birth_date,
                phone=phone,
                address=address,
                district_id=district,
                community=community,
                registered_by_id=network.institutions[home].id if home >= 0 else None,
                died_on=died_on,
            )
            cohort.ids.append(resident_id)
            cohort.district.append(district_index)
            cohort.home.append(home)
            cohort.age.append(min(age, 255))
            cohort.tags.append(tags)
            cohort.visit_weight.append(weight)
            cohort.female.append(sex == "female")
            if offset % 5000 == 4999:
                progress(5000)
    progress(count % 5000)
    return cohort


def _region_code(rng: random.Random, district: str, year: int) -> str:
    if rng.random() < reference.MIGRANT_SHARE:
        codes = migrant_codes_for_year(year)
        if codes:
            return codes[int(rng.random() * len(codes))]
    if year >= reference.DISTRICT_REGION_CODES_FROM_YEAR:
        return reference.DISTRICT_REGION_CODES.get(district, reference.CITY_REGION_CODE)
    return reference.CITY_REGION_CODE


def _unique_number(
    rng: random.Random,
    region: str,
    birth_date: dt.date,
    sex: str,
    used_numbers: set[str],
    existing_hashes: set[str],
) -> tuple[str, str]:
    """A number not yet issued in this run nor in the database: 500 per region, date and sex,
    drawn at random, then searched in order when the day is crowded."""
    draws = (rng.randrange(500) for _ in range(20))
    for sequence in itertools.chain(draws, range(500)):
        number = make_national_id(
            region_code=region, birth_date=birth_date, sequence=sequence, sex=sex
        )
        if number in used_numbers:
            continue
        digest = national_id_hash(number)
        if digest in existing_hashes:
            continue
        used_numbers.add(number)
        return number, digest
    raise RuntimeError(f"no national ID number left for {region} {birth_date} {sex}")


def _tags(rand: Callable[[], float], age: int, sex: str) -> int:
    tags = 0
    if rand() < reference.hypertension_prevalence(age):
        tags |= HYPERTENSION
    if rand() < reference.diabetes_prevalence(age):
        tags |= DIABETES
    if rand() < reference.disabled_prevalence(age):
        tags |= DISABLED
    if rand() < reference.LOW_INCOME_PREVALENCE:
        tags |= LOW_INCOME
    if age >= 15:
        if rand() < reference.TUBERCULOSIS_PREVALENCE:
            tags |= TUBERCULOSIS
        if rand() < reference.SEVERE_MENTAL_ILLNESS_PREVALENCE:
            tags |= SEVERE_MENTAL_ILLNESS
    if sex == "female" and 20 <= age <= 40 and rand() < reference.PREGNANT_PREVALENCE:
        tags |= PREGNANT
    return tags


def write_tags(
    cohort: ResidentCohort,
    progress: Callable[[int], None],
    *,
    seed: int | str,
    today: dt.date,
) -> int:
    """Write the registry tags recorded in the cohort, with their validity (demo/register.py:
    a start for some, the end on the day of death, ended history); return how many."""
    rng = random.Random(f"{seed}:tag-dates")  # noqa: S311 - reproducible demo data
    written = 0
    with rows_writer(ResidentPopulationTag, build_indexes_after=True) as write:
        for offset, tags in enumerate(cohort.tags):
            resident_id = cohort.ids[offset]
            populations = [population for bit, population in TAG_BITS if tags & bit]
            female_20_40 = bool(cohort.female[offset]) and 20 <= cohort.age[offset] <= 40
            for row in tag_rows(cohort, offset, populations, rng, today, female_20_40):
                write(resident_id=resident_id, **row)
                written += 1
            if offset % 20000 == 19999:
                progress(20000)
    progress(cohort.count % 20000)
    return written
