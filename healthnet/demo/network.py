"""The loaded network as the generator sees it: institutions by tier and district, their
departments, and how the city's population splits over the districts."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from healthnet.demo import reference
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
    """Residents per district: from the network data file (settings.NETWORK_DATA_FILE, read by
    the network loader: the one place a city states its population), else Wuhai's census."""
    figures: dict[str, int] | None = None
    data_file = Path(settings.NETWORK_DATA_FILE)
    if data_file.exists() and importlib.util.find_spec("healthnet.network_loader") is not None:
        loader = importlib.import_module("healthnet.network_loader")
        provider = getattr(loader, "district_populations", None)
        if callable(provider):
            figures = {str(key): int(value) for key, value in dict(provider(data_file)).items()}
    if not figures:
        figures = dict(reference.DEFAULT_DISTRICT_POPULATION)
    known = set(District.objects.values_list("code", flat=True))
    return {key: value for key, value in figures.items() if key in known and value > 0}
