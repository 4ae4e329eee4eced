"""Key populations (重点人群) of a resident on a given day: registry tags plus the age groups,
which are derived from the birth date because they change with time (docs/design.md §3)."""

from __future__ import annotations

import datetime as dt

from healthnet.models import KeyPopulation, Resident

# Tags are health data: who may not read them back may not write them (docs/security.md).
POPULATIONS_FORBIDDEN = "populations_forbidden"
POPULATIONS_FORBIDDEN_MESSAGE = (
    "您的角色不能登记或变更重点人群（健康信息）"
    "(your role may not set key populations: they are health data)"
)


def age_on(birth_date: dt.date, on: dt.date) -> int:
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def age_populations(birth_date: dt.date, on: dt.date) -> list[str]:
    age = age_on(birth_date, on)
    groups = []
    if age >= 65:
        groups.append(KeyPopulation.ELDERLY_65.value)
    if age <= 6:
        groups.append(KeyPopulation.CHILD_0_6.value)
    return groups


def birth_date_range_for_age_population(
    population: str, on: dt.date
) -> tuple[dt.date | None, dt.date | None]:
    """(born_after_or_on, born_on_or_before) bounds selecting an age group by birth date."""
    if population == KeyPopulation.ELDERLY_65:
        return None, _years_before(on, 65)
    if population == KeyPopulation.CHILD_0_6:
        return _years_before(on, 7) + dt.timedelta(days=1), None
    raise ValueError(f"{population} is not an age-derived population")


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def resident_key_populations(resident: Resident, *, on: dt.date) -> list[str]:
    """Needs `population_tags` prefetched to stay one query per page; the tags valid on `on`."""
    tags = [tag.population for tag in resident.population_tags.all() if tag.valid_on(on)]
    return sorted({*tags, *age_populations(resident.birth_date, on)})
