"""The agreed terms of a contract: the packages offered and chosen (checked by signing.rules), the
terms document and its hash, and the follow-up plan its packages imply. Read by services, import
and demo. `term_end` and `contract_status_on` are rules; they are importable from here too."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from django.db.models import Prefetch

from healthnet.models import Resident
from signing import rules
from signing.models import ServiceItem, ServicePackage
from signing.rules import contract_status_on as contract_status_on
from signing.rules import term_end as term_end

# --- packages ------------------------------------------------------------------------------------


def packages_with_items() -> Prefetch:
    return Prefetch("items", queryset=ServiceItem.objects.order_by("code"))


def package_facts(package: ServicePackage) -> rules.PackageFacts:
    return rules.PackageFacts(
        code=package.code, kind=package.kind, population=package.eligible_population
    )


def catalogue_active() -> dict[str, ServicePackage]:
    """The active packages by code, items prefetched."""
    packages = ServicePackage.objects.filter(active=True).prefetch_related(packages_with_items())
    return {p.code: p for p in packages}


def _ordered(packages: Iterable[ServicePackage]) -> list[ServicePackage]:
    return sorted(packages, key=lambda p: (p.kind, p.code))


def _populations(resident: Resident, on: dt.date) -> frozenset[str]:
    # The tags valid on the day (prefetched: filtered here, not in a query).
    tags = [tag.population for tag in resident.population_tags.all() if tag.valid_on(on)]
    return rules.key_populations(tags, resident.birth_date, on)


def packages_offered(resident: Resident, *, on: dt.date) -> list[ServicePackage]:
    """The basic package plus the personalised ones for the resident's key populations."""
    catalogue = catalogue_active()
    codes = rules.packages_offered(
        {code: package_facts(p) for code, p in catalogue.items()}, _populations(resident, on)
    )
    return _ordered(catalogue[code] for code in codes)


def packages_resolve(
    resident: Resident, codes: Iterable[str], *, on: dt.date
) -> list[ServicePackage]:
    """The packages asked for, checked by signing.rules against the resident's key populations
    on `on`; the basic package always in."""
    catalogue = catalogue_active()
    chosen = rules.packages_choose(
        codes,
        catalogue={code: package_facts(p) for code, p in catalogue.items()},
        populations=_populations(resident, on),
    )
    return _ordered(catalogue[code] for code in chosen)


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
