"""Validating a network file's document: every field against its table, then the rules across
records (unique codes, known districts and institutions, membership periods, one current lead).
Every problem is collected with its line and field path; nothing stops at the first."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.db import models

from healthnet.models import (
    Alliance,
    AllianceKind,
    Department,
    District,
    Institution,
    MembershipRole,
    Tier,
)
from healthnet.network_file.reading import MarkedMapping, MarkedSequence
from healthnet.network_file.spec import (
    FORMAT_VERSION,
    AllianceSpec,
    DepartmentSpec,
    DistrictSpec,
    InstitutionSpec,
    MembershipSpec,
    NetworkSpec,
    Problem,
)

_UPGRADE_HINTS = {
    1: ": replace `district_population` with a `districts` table (docs/network-data.md)",
}
_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MAX_INT = 2**31 - 1  # PositiveIntegerField on PostgreSQL


def _max_length(model: type[models.Model], name: str) -> int:
    field = model._meta.get_field(name)
    assert isinstance(field, models.CharField)  # noqa: S101 - the callers name text fields
    assert field.max_length is not None  # noqa: S101
    return field.max_length


@dataclass(frozen=True)
class _Field:
    kind: str  # text | slug | int | bool | date | choice | list | mapping
    required: bool = True
    default: Any = None
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    noun: str = ""  # "tier" → "unknown tier 'x'"


_DISTRICT_FIELDS = {
    "code": _Field("slug", max_length=_max_length(District, "code")),
    "name": _Field("text", max_length=_max_length(District, "name")),
    "name_en": _Field(
        "text", required=False, default="", max_length=_max_length(District, "name_en")
    ),
    "population": _Field("int"),
}
_INSTITUTION_FIELDS = {
    "code": _Field("slug", max_length=_max_length(Institution, "code")),
    "name": _Field("text", max_length=_max_length(Institution, "name")),
    "name_en": _Field(
        "text", required=False, default="", max_length=_max_length(Institution, "name_en")
    ),
    "sample_name": _Field("bool", required=False, default=False),
    "tier": _Field("choice", choices=tuple(Tier.values), noun="tier"),
    "category": _Field("text", max_length=_max_length(Institution, "category")),
    "grade": _Field(
        "text", required=False, default="", max_length=_max_length(Institution, "grade")
    ),
    "district": _Field("slug", max_length=_max_length(District, "code")),
    "beds": _Field("int", required=False, default=0),
    "phone": _Field(
        "text", required=False, default="", max_length=_max_length(Institution, "phone")
    ),
    "departments": _Field("list", required=False, default=()),
}
_DEPARTMENT_FIELDS = {
    "code": _Field("slug", max_length=_max_length(Department, "code")),
    "name": _Field("text", max_length=_max_length(Department, "name")),
    "specialty": _Field("slug", max_length=_max_length(Department, "specialty")),
    "accepts_referrals": _Field("bool", required=False, default=True),
    "referral_slots_per_day": _Field("int", required=False, default=0),
}
_ALLIANCE_FIELDS = {
    "code": _Field("slug", max_length=_max_length(Alliance, "code")),
    "name": _Field("text", max_length=_max_length(Alliance, "name")),
    "kind": _Field("choice", choices=tuple(AllianceKind.values), noun="alliance kind"),
    "district": _Field(
        "slug", required=False, default="", max_length=_max_length(District, "code")
    ),
    "members": _Field("list"),
}
_MEMBER_FIELDS = {
    "institution": _Field("slug", max_length=_max_length(Institution, "code")),
    "role": _Field("choice", choices=tuple(MembershipRole.values), noun="membership role"),
    "start_date": _Field("date"),
    "end_date": _Field("date", required=False),
}
_ROOT_FIELDS = {
    "version": _Field("int"),
    "city": _Field("text", max_length=64),
    "city_en": _Field("text", required=False, default="", max_length=64),
    "districts": _Field("list"),
    "institutions": _Field("list"),
    "alliances": _Field("list", required=False, default=()),
}


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, dt.date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"'{value}'"


class Validator:
    """One pass over a document: `network(document, sha256)` returns the NetworkSpec, or None
    with every problem found in `problems`."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.district_codes: tuple[str, ...] = ()

    def problem(self, line: int | None, path: str, message: str) -> None:
        self.problems.append(Problem(line, path, message))

    def record(self, value: Any, line: int | None, path: str, spec: dict[str, _Field]):
        """Check one mapping against its field table. Returns the cleaned values, or None when
        anything in it is wrong (the problems are recorded)."""
        if not isinstance(value, MarkedMapping):
            self.problem(line, path, f"expected a mapping, got {_describe(value)} (应为映射)")
            return None
        before = len(self.problems)
        for dup_line, key in value.duplicate_keys:
            self.problem(
                dup_line, f"{path}.{key}" if path else str(key), "duplicate key (重复的键)"
            )
        for key in value:
            if key not in spec:
                where = f"{path}.{key}" if path else str(key)
                self.problem(
                    value.line_of(key),
                    where,
                    f"unknown field; expected one of {', '.join(spec)} (未知字段)",
                )
        cleaned = {}
        for name, rule in spec.items():
            where = f"{path}.{name}" if path else name
            raw = value.get(name)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                if rule.required:
                    self.problem(
                        value.line_of(name), where, "required field missing (缺少必填字段)"
                    )
                cleaned[name] = rule.default
                continue
            ok, clean = self.scalar(raw, rule)
            if not ok:
                self.problem(value.line_of(name), where, clean)
            cleaned[name] = clean
        return cleaned if len(self.problems) == before else None

    @staticmethod
    def scalar(raw: Any, rule: _Field) -> tuple[bool, Any]:
        """(True, clean value) or (False, message)."""
        kind = rule.kind
        if kind in {"text", "slug", "choice"}:
            if not isinstance(raw, str):
                return False, f"expected text, got {_describe(raw)} (应为文本)"
            text = raw.strip()
            if kind == "choice" and text not in rule.choices:
                return (
                    False,
                    f"unknown {rule.noun} '{text}'; expected one of "
                    f"{', '.join(rule.choices)} (未知取值)",
                )
            if kind == "slug" and not _SLUG.match(text):
                return (
                    False,
                    f"'{text}' is not a code: use letters, digits, '-' and '_' (代码格式错误)",
                )
            if rule.max_length and len(text) > rule.max_length:
                return False, f"longer than {rule.max_length} characters (超长)"
            return True, text
        if kind == "int":
            if isinstance(raw, bool) or not isinstance(raw, int):
                return False, f"expected a whole number, got {_describe(raw)} (应为整数)"
            if not 0 <= raw <= _MAX_INT:
                return False, f"must be between 0 and {_MAX_INT}, got {raw} (超出范围)"
            return True, raw
        if kind == "bool":
            if not isinstance(raw, bool):
                return False, f"expected true or false, got {_describe(raw)} (应为 true/false)"
            return True, raw
        if kind == "date":
            if isinstance(raw, dt.datetime):
                return False, f"expected a date (YYYY-MM-DD), got a date and time ({raw})"
            if isinstance(raw, dt.date):
                return True, raw
            if isinstance(raw, str) and _ISO_DATE.match(raw.strip()):
                try:
                    return True, dt.date.fromisoformat(raw.strip())
                except ValueError:
                    pass
            return False, f"not a valid date {_describe(raw)}; expected YYYY-MM-DD (日期无效)"
        if kind == "list":
            if not isinstance(raw, MarkedSequence):
                return False, f"expected a list, got {_describe(raw)} (应为列表)"
            return True, raw
        if not isinstance(raw, MarkedMapping):  # mapping
            return False, f"expected a mapping, got {_describe(raw)} (应为映射)"
        return True, raw

    def unique(
        self, seen: dict[Any, int | None], key: Any, line: int | None, path: str, what: str
    ) -> bool:
        if key in seen:
            self.problem(line, path, f"duplicate {what} (first at line {seen[key]}) (重复)")
            return False
        seen[key] = line
        return True

    # --- the document ---

    def network(self, document: Any, sha256: str) -> NetworkSpec | None:
        if document is None:
            self.problem(1, "", "the file is empty (文件为空)")
            return None
        root = self.record(document, 1, "", _ROOT_FIELDS)
        if root is None and not isinstance(document, MarkedMapping):
            return None
        root = root or {name: document.get(name) for name in _ROOT_FIELDS}
        version = root["version"]
        if isinstance(version, int) and not isinstance(version, bool) and version != FORMAT_VERSION:
            self.problem(
                document.line_of("version"),
                "version",
                f"unsupported format version {version}; this loader reads version "
                f"{FORMAT_VERSION}{_UPGRADE_HINTS.get(version, '')} (不支持的格式版本)",
            )
        raw_districts = root["districts"]
        if not isinstance(raw_districts, MarkedSequence):
            raw_districts = MarkedSequence(None)  # its problem is recorded already
        elif not raw_districts:
            self.problem(
                document.line_of("districts"),
                "districts",
                "at least one district is required (至少需要一个区)",
            )
        districts = self.districts(raw_districts)
        self.district_codes = tuple(
            code.strip()
            for item in raw_districts
            if isinstance(item, MarkedMapping) and isinstance(code := item.get("code"), str)
        )
        raw_institutions = root["institutions"]
        if not isinstance(raw_institutions, MarkedSequence):
            raw_institutions = MarkedSequence(None)  # its problem is recorded already
        elif not raw_institutions:
            self.problem(
                document.line_of("institutions"),
                "institutions",
                "at least one institution is required (至少需要一个机构)",
            )
        institutions = self.institutions(raw_institutions)
        known_codes = {
            code.strip()
            for item in raw_institutions
            if isinstance(item, MarkedMapping) and isinstance(code := item.get("code"), str)
        }
        raw_alliances = root["alliances"]
        if not isinstance(raw_alliances, MarkedSequence):
            raw_alliances = MarkedSequence(None)
        alliances = self.alliances(raw_alliances, known_codes)
        if self.problems:
            return None
        return NetworkSpec(
            version=version,
            city=root["city"],
            city_en=root["city_en"],
            districts=tuple(districts),
            institutions=tuple(institutions),
            alliances=tuple(alliances),
            sha256=sha256,
        )

    def districts(self, items: MarkedSequence) -> list[DistrictSpec]:
        specs: list[Any] = []
        seen_codes: dict[Any, int | None] = {}
        for index, item in enumerate(items):
            path, line = f"districts[{index}]", items.line_of(index)
            values = self.record(item, line, path, _DISTRICT_FIELDS)
            if values is None:
                continue
            if not self.unique(
                seen_codes,
                values["code"],
                item.line_of("code"),
                f"{path}.code",
                f"district code '{values['code']}'",
            ):
                continue
            if values["population"] <= 0:
                self.problem(
                    item.line_of("population"),
                    f"{path}.population",
                    f"expected a positive whole number, got {values['population']} (应为正整数)",
                )
                continue
            specs.append(DistrictSpec(**values))
        return specs

    def known_district(self, item: MarkedMapping, path: str, code: str) -> bool:
        """A district referred to by an institution or alliance is one of the file's own."""
        if code in self.district_codes:
            return True
        expected = ", ".join(self.district_codes) or "none: the file lists no district"
        self.problem(
            item.line_of("district"),
            f"{path}.district",
            f"unknown district '{code}'; expected one of {expected} (未知的区)",
        )
        return False

    def institutions(self, items: MarkedSequence) -> list[InstitutionSpec]:
        specs: list[Any] = []
        seen_codes: dict[Any, int | None] = {}
        for index, item in enumerate(items):
            path, line = f"institutions[{index}]", items.line_of(index)
            values = self.record(item, line, path, _INSTITUTION_FIELDS)
            if values is None or not self.known_district(item, path, values["district"]):
                continue
            if not self.unique(
                seen_codes,
                values["code"],
                item.line_of("code"),
                f"{path}.code",
                f"institution code '{values['code']}'",
            ):
                continue
            departments = self.departments(values["departments"], f"{path}.departments")
            if departments is None:
                continue
            values.pop("departments")
            values["is_sample_name"] = values.pop("sample_name")
            specs.append(InstitutionSpec(**values, departments=tuple(departments)))
        return specs

    def departments(self, items: MarkedSequence, path: str) -> list[DepartmentSpec] | None:
        specs: list[Any] = []
        seen_codes: dict[Any, int | None] = {}
        ok = True
        for index, item in enumerate(items):
            where, line = f"{path}[{index}]", items.line_of(index)
            values = self.record(item, line, where, _DEPARTMENT_FIELDS)
            if values is None:
                ok = False
                continue
            if not self.unique(
                seen_codes,
                values["code"],
                item.line_of("code"),
                f"{where}.code",
                f"department code '{values['code']}' in this institution",
            ):
                ok = False
                continue
            if values["referral_slots_per_day"] and not values["accepts_referrals"]:
                self.problem(
                    item.line_of("referral_slots_per_day"),
                    f"{where}.referral_slots_per_day",
                    "a department that does not accept referrals cannot reserve referral slots "
                    "(不接收转诊的科室不能预留号源)",
                )
                ok = False
                continue
            specs.append(DepartmentSpec(**values))
        return specs if ok else None

    def alliances(self, items: MarkedSequence, known_codes: set[str]) -> list[AllianceSpec]:
        specs: list[Any] = []
        seen_codes: dict[Any, int | None] = {}
        for index, item in enumerate(items):
            path, line = f"alliances[{index}]", items.line_of(index)
            values = self.record(item, line, path, _ALLIANCE_FIELDS)
            if values is None:
                continue
            if not self.unique(
                seen_codes,
                values["code"],
                item.line_of("code"),
                f"{path}.code",
                f"alliance code '{values['code']}'",
            ):
                continue
            if values["kind"] == AllianceKind.MEDICAL_COMMUNITY and not values["district"]:
                self.problem(
                    item.line_of("district"),
                    f"{path}.district",
                    "a medical community needs its district (医共体须注明所属区)",
                )
                continue
            if values["district"] and not self.known_district(item, path, values["district"]):
                continue
            members = self.members(
                values.pop("members"), f"{path}.members", values["code"], known_codes
            )
            if members is not None:
                specs.append(AllianceSpec(**values, members=tuple(members)))
        return specs

    def members(
        self, items: MarkedSequence, path: str, alliance: str, known_codes: set[str]
    ) -> list[MembershipSpec] | None:
        specs: list[MembershipSpec] = []
        lines: list[int | None] = []
        ok, current_lead_line = True, None
        seen: dict[Any, int | None] = {}
        for index, item in enumerate(items):
            where, line = f"{path}[{index}]", items.line_of(index)
            values = self.record(item, line, where, _MEMBER_FIELDS)
            if values is None:
                ok = False
                continue
            spec = MembershipSpec(**values)
            if spec.institution not in known_codes:
                self.problem(
                    item.line_of("institution"),
                    f"{where}.institution",
                    f"unknown institution '{spec.institution}' (未知机构)",
                )
                ok = False
                continue
            if spec.end_date is not None and spec.end_date <= spec.start_date:
                self.problem(
                    item.line_of("end_date"),
                    f"{where}.end_date",
                    "end_date must be after start_date (结束日期须晚于开始日期)",
                )
                ok = False
                continue
            if not self.unique(
                seen,
                (spec.institution, spec.start_date),
                item.line_of("start_date"),
                f"{where}.start_date",
                f"membership of '{spec.institution}' from {spec.start_date}",
            ):
                ok = False
                continue
            for other, other_line in zip(specs, lines, strict=True):
                if other.institution == spec.institution and _overlap(other, spec):
                    self.problem(
                        line,
                        where,
                        f"the membership of '{spec.institution}' overlaps the one at line "
                        f"{other_line} (成员期间重叠)",
                    )
                    ok = False
            if spec.role == MembershipRole.LEAD and spec.end_date is None:
                if current_lead_line is not None:
                    self.problem(
                        item.line_of("role"),
                        f"{where}.role",
                        f"alliance '{alliance}' has more than one current lead (also line "
                        f"{current_lead_line}) (牵头单位只能有一个)",
                    )
                    ok = False
                    continue
                current_lead_line = item.line_of("role")
            specs.append(spec)
            lines.append(line)
        return specs if ok else None


def _overlap(a: MembershipSpec, b: MembershipSpec) -> bool:
    far = dt.date.max
    return a.start_date < (b.end_date or far) and b.start_date < (a.end_date or far)
