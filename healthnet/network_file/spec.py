"""What a validated network file holds (docs/network-data.md), and how a refused one is reported."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from healthnet.errors import InvalidInput

# 2: the districts are a table of their own (`districts`), replacing version 1's
# `district_population` mapping of a fixed list of district codes.
FORMAT_VERSION = 2
MAX_PROBLEMS_SHOWN = 50


@dataclass(frozen=True)
class DistrictSpec:
    code: str
    name: str
    name_en: str
    population: int


@dataclass(frozen=True)
class DepartmentSpec:
    code: str
    name: str
    specialty: str
    accepts_referrals: bool
    referral_slots_per_day: int


@dataclass(frozen=True)
class InstitutionSpec:
    code: str
    name: str
    name_en: str
    tier: str
    category: str
    grade: str
    district: str
    beds: int
    is_sample_name: bool
    departments: tuple[DepartmentSpec, ...]
    phone: str = ""


@dataclass(frozen=True)
class MembershipSpec:
    institution: str
    role: str
    start_date: dt.date
    end_date: dt.date | None


@dataclass(frozen=True)
class AllianceSpec:
    code: str
    name: str
    kind: str
    district: str
    members: tuple[MembershipSpec, ...]


@dataclass(frozen=True)
class NetworkSpec:
    version: int
    city: str
    city_en: str
    districts: tuple[DistrictSpec, ...]
    institutions: tuple[InstitutionSpec, ...]
    alliances: tuple[AllianceSpec, ...]
    sha256: str

    @property
    def district_population(self) -> dict[str, int]:
        return {district.code: district.population for district in self.districts}


@dataclass(frozen=True)
class Problem:
    line: int | None
    path: str
    message: str

    def render(self, source: str) -> str:
        where = f"{source} line {self.line}" if self.line is not None else source
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class NetworkFileInvalid(InvalidInput):
    """The file was refused; nothing was written. ``problems`` lists every fault found."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: p.line or 0)
        lines = [p.render(source) for p in self.problems[:MAX_PROBLEMS_SHOWN]]
        if len(self.problems) > MAX_PROBLEMS_SHOWN:
            lines.append(f"... and {len(self.problems) - MAX_PROBLEMS_SHOWN} more")
        lines.append(
            f"网络数据文件无效，未写入任何数据 (invalid network file: {len(self.problems)} "
            "problem(s), nothing was written)"
        )
        super().__init__(
            "network_file_invalid",
            "\n".join(lines),
            problems=[dataclasses.asdict(p) for p in self.problems],
        )
