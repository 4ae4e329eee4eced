"""The agreed terms of a contract: its dates, the packages offered and chosen, the terms document
and its hash, and the follow-up plan its packages imply. Read by services, import and demo."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from healthnet.errors import Conflict, InvalidInput
from healthnet.models import Resident
from healthnet.populations import resident_key_populations
from signing.models import (
    FOLLOWUP_ON_TIME_DAYS,
    RENEWAL_GRACE_DAYS,
    RENEWAL_NOTICE_DAYS,
    ContractStatus,
    PackageKind,
    ServiceItem,
    ServicePackage,
)

# --- terms, dates, packages ---------------------------------------------------------------------


def term_end(start: dt.date) -> dt.date:
    """A one-year term: 2026-03-01 → 2027-02-28 (the day before the anniversary)."""
    try:
        anniversary = start.replace(year=start.year + 1)
    except ValueError:  # 29 February
        anniversary = start.replace(year=start.year + 1, day=28) + dt.timedelta(days=1)
    return anniversary - dt.timedelta(days=1)


def contract_status_on(start: dt.date, end: dt.date, today: dt.date) -> str:
    """The status a signed contract with this term has on `today` (import and demo data)."""
    if today > end + dt.timedelta(days=RENEWAL_GRACE_DAYS):
        return ContractStatus.EXPIRED
    if today >= end - dt.timedelta(days=RENEWAL_NOTICE_DAYS):
        return ContractStatus.RENEWAL_DUE
    return ContractStatus.ACTIVE


def packages_with_items() -> Prefetch:
    return Prefetch("items", queryset=ServiceItem.objects.order_by("code"))


def packages_offered(resident: Resident, *, on: dt.date) -> list[ServicePackage]:
    """The basic package plus the personalised ones for the resident's key populations."""
    populations = resident_key_populations(resident, on=on)
    packages = ServicePackage.objects.filter(active=True).prefetch_related(packages_with_items())
    return [
        p
        for p in packages.order_by("kind", "code")
        if p.kind == PackageKind.BASIC or p.eligible_population in populations
    ]


def packages_resolve(
    resident: Resident, codes: Iterable[str], *, on: dt.date
) -> list[ServicePackage]:
    """The packages asked for, checked against what the resident is offered; basic always in."""
    offered = {p.code: p for p in packages_offered(resident, on=on)}
    basic = [p for p in offered.values() if p.kind == PackageKind.BASIC]
    if not basic:
        raise Conflict(
            "catalogue_missing", "服务包目录未加载 (the service package catalogue is not loaded)"
        )
    chosen = {basic[0].code: basic[0]}
    codes = [c for c in dict.fromkeys(codes) if c]
    known = set(
        ServicePackage.objects.filter(code__in=codes, active=True).values_list("code", flat=True)
    )
    for code in codes:
        if code not in known:
            raise InvalidInput(
                "package_unknown", f"未知的服务包: {code} (unknown package)", field="packages"
            )
        if code not in offered:
            raise InvalidInput(
                "package_not_eligible",
                f"居民不属于服务包 {code} 的适用人群 (not eligible for this package)",
                field="packages",
                package=code,
            )
        chosen[code] = offered[code]
    return sorted(chosen.values(), key=lambda p: (p.kind, p.code))


def package_terms(package: ServicePackage) -> dict[str, Any]:
    """One package as agreed: code, name and items (items prefetched)."""
    return {
        "code": package.code,
        "name": package.name,
        "items": [
            {
                "code": i.code,
                "name": i.name,
                "times_per_year": i.times_per_year,
                "price_fen": i.price_fen,
            }
            for i in package.items.all()
        ],
    }


def terms_document(
    *,
    contract_id: str,
    resident_id: str,
    team_code: str,
    start_date: dt.date,
    end_date: dt.date,
    packages: Iterable[ServicePackage] = (),
    terms_of_packages: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What the resident agrees to, as data. Give the packages (items prefetched) or, in bulk
    paths, their precomputed `package_terms` in code order."""
    if terms_of_packages is None:
        terms_of_packages = [package_terms(p) for p in sorted(packages, key=lambda p: p.code)]
    return {
        "contract": contract_id,
        "resident": resident_id,
        "team": team_code,
        "start_date": start_date.isoformat(),
        "end_date": end_date.isoformat(),
        "packages": terms_of_packages,
        "price_fen": sum(
            i["price_fen"] * i["times_per_year"] for p in terms_of_packages for i in p["items"]
        ),
    }


def terms_hash(document: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8) of the agreed terms."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def followup_plan(
    start: dt.date, end: dt.date, packages: Iterable[ServicePackage]
) -> list[tuple[ServiceItem, dt.date]]:
    """Due dates spread evenly over the term: item k of n falls mid-way in the k-th n-th."""
    term_days = (end - start).days + 1
    plan = []
    for package in packages:
        for item in package.items.all():
            n = item.times_per_year
            for k in range(n):
                plan.append((item, start + dt.timedelta(days=term_days * (2 * k + 1) // (2 * n))))
    return plan


def followup_on_time(due_date: dt.date, done_at: dt.datetime) -> bool:
    """A follow-up done by FOLLOWUP_ON_TIME_DAYS after its due date (local calendar days) counts
    as on time: the numerator of the 履约率 (services and demo data)."""
    return timezone.localdate(done_at) <= due_date + dt.timedelta(days=FOLLOWUP_ON_TIME_DAYS)
