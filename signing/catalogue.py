"""The service package catalogue (服务包目录): loaded from a versioned YAML data file.

Loading upserts by code, so running it twice changes nothing; an item dropped from the file is
kept (follow-ups point at it) but a package dropped from the file is deactivated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.db import transaction

from healthnet.errors import InvalidInput
from healthnet.models import KeyPopulation
from signing.models import PackageKind, ServiceItem, ServicePackage

DEFAULT_CATALOGUE = Path(settings.BASE_DIR) / "data" / "service_packages.yaml"


def _validate(data: Any) -> list[dict]:
    if not isinstance(data, dict) or not isinstance(data.get("packages"), list):
        raise InvalidInput("catalogue_invalid", "服务包目录格式错误 (catalogue must list packages)")
    packages = data["packages"]
    basics = [p for p in packages if p.get("kind") == PackageKind.BASIC]
    if len(basics) != 1:
        raise InvalidInput("catalogue_invalid", "目录须恰有一个基础包 (exactly one basic package)")
    for package in packages:
        if package.get("kind") not in PackageKind.values:
            raise InvalidInput("catalogue_invalid", f"未知的服务包类型: {package.get('kind')}")
        population = package.get("eligible_population", "")
        if package["kind"] == PackageKind.PERSONALISED and population not in KeyPopulation.values:
            raise InvalidInput(
                "catalogue_invalid", f"{package['code']}: 未知的重点人群 {population}"
            )
        if not package.get("items"):
            raise InvalidInput("catalogue_invalid", f"{package['code']}: 服务包须有服务项目")
    return packages


def service_packages_load(path: str | Path | None = None) -> dict[str, int]:
    """Create or update the catalogue from `path` (default data/service_packages.yaml)."""
    with open(path or DEFAULT_CATALOGUE, encoding="utf-8") as handle:
        packages = _validate(yaml.safe_load(handle))
    counts = {"packages": 0, "items": 0}
    with transaction.atomic():
        for spec in packages:
            package, _ = ServicePackage.objects.update_or_create(
                code=spec["code"],
                defaults={
                    "name": spec["name"],
                    "name_en": spec.get("name_en", ""),
                    "kind": spec["kind"],
                    "eligible_population": spec.get("eligible_population", ""),
                    "description": spec.get("description", ""),
                    "active": True,
                },
            )
            counts["packages"] += 1
            for item in spec["items"]:
                ServiceItem.objects.update_or_create(
                    package=package,
                    code=item["code"],
                    defaults={
                        "name": item["name"],
                        "times_per_year": int(item["times_per_year"]),
                        "price_fen": int(item.get("price_fen", 0)),
                    },
                )
                counts["items"] += 1
        ServicePackage.objects.exclude(code__in=[p["code"] for p in packages]).update(active=False)
    return counts
