"""The loaded network as the generator sees it: institutions by tier and district, their
departments, and how the city's population splits over the districts."""

from __future__ import annotations

from dataclasses import dataclass, field

from demo import reference
from healthnet.models import Department, District, Institution, Tier


class NetworkMissing(Exception):
    """No institutions are loaded: the generator has nowhere to put residents and visits."""


@dataclass
class DepartmentView:
    id: int
    code: str
    name: str
    specialty: str


@dataclass
class InstitutionView:
    id: int
    code: str
    name: str
    tier: str
    category: str
    district: str
    beds: int
    departments: list[DepartmentView] = field(default_factory=list)

    @property
    def is_primary(self) -> bool:
        return self.tier == Tier.PRIMARY

    def matches(self, keywords: tuple[str, ...]) -> bool:
        text = f"{self.code} {self.category} {self.name}".lower()
        return any(word in text for word in keywords)


@dataclass
class NetworkView:
    institutions: list[InstitutionView]
    district_population: dict[str, int]

    @property
    def primaries(self) -> list[InstitutionView]:
        return [i for i in self.institutions if i.is_primary]

    @property
    def hospitals(self) -> list[InstitutionView]:
        return [i for i in self.institutions if not i.is_primary]

    def primaries_in(self, district: str) -> list[InstitutionView]:
        """The district's primary institutions, or the whole city's when it has none."""
        local = [i for i in self.primaries if i.district == district]
        return local or self.primaries


def network_view() -> NetworkView:
    """Read the active institutions and departments (ordered by code, so the generator is
    deterministic for a seed whatever the row ids). Raises NetworkMissing when there are none."""
    institutions = {
        row.id: InstitutionView(
            id=row.id,
            code=row.code,
            name=row.name,
            tier=row.tier,
            category=row.category,
            district=row.district_id,
            beds=row.beds,
        )
        for row in Institution.objects.filter(active=True).order_by("code")
    }
    if not institutions:
        raise NetworkMissing(
            "没有已加载的医疗机构网络,请先运行 `python manage.py load_network data/wuhai.yaml` "
            "(no network loaded: run `python manage.py load_network data/wuhai.yaml` first)"
        )
    departments = Department.objects.filter(institution_id__in=institutions).order_by(
        "institution__code", "code"
    )
    for row in departments:
        institutions[row.institution_id].departments.append(
            DepartmentView(id=row.id, code=row.code, name=row.name, specialty=row.specialty)
        )
    return NetworkView(
        institutions=list(institutions.values()), district_population=district_population()
    )


def district_population() -> dict[str, int]:
    """Residents per district: the populations the network file gave the districts
    (healthnet.models.District, loaded by load_network), else Wuhai's census for any loaded
    district the file gave none."""
    loaded = dict(
        District.objects.filter(active=True).order_by("code").values_list("code", "population")
    )
    figures = {code: population for code, population in loaded.items() if population}
    if not figures:
        figures = {
            code: population
            for code, population in reference.DEFAULT_DISTRICT_POPULATION.items()
            if code in loaded
        }
    return {code: population for code, population in figures.items() if population > 0}
