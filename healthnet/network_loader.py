"""Load a city's health network from a versioned data file (docs/network-data.md).

Two steps, in this order, so that a bad file writes nothing:

1. ``healthnet.network_file.network_file_parse`` reads and validates the whole file.
2. ``network_apply``: one transaction that upserts by code (created / updated / unchanged), marks
   districts and institutions that left the file inactive (never deletes them), and writes one
   audit event if anything changed.

``network_load`` does both; ``python manage.py load_network`` is a thin wrapper around it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, models, transaction

from healthnet.models import (
    Alliance,
    AllianceMembership,
    Department,
    District,
    Institution,
    MembershipRole,
    User,
)
from healthnet.network_file import (
    DEFAULT_NETWORK_FILE,
    FORMAT_VERSION,
    MembershipSpec,
    NetworkFileInvalid,
    NetworkSpec,
    Problem,
    district_population,
    network_file_parse,
)
from healthnet.services import audit_record

_ADVISORY_LOCK_KEY = 0x4E45_5457  # "NETW": serializes network loads on PostgreSQL

# --- applying it -------------------------------------------------------------------------------


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0  # districts and institutions deactivated, departments retired, ...


# What "removed" means for each kind of row, in the report.
_REMOVED_WORD = {
    "districts": "deactivated",
    "institutions": "deactivated",
    "departments": "retired",
    "alliances": "not in file (kept)",
    "memberships": "removed",
}


@dataclass
class LoadReport:
    source: str
    city: str
    version: int
    sha256: str
    dry_run: bool = False
    tallies: dict[str, Tally] = field(
        default_factory=lambda: {kind: Tally() for kind in _REMOVED_WORD}
    )
    deactivated_districts: list[str] = field(default_factory=list)
    deactivated_institutions: list[str] = field(default_factory=list)
    retired_departments: list[str] = field(default_factory=list)
    alliances_not_in_file: list[str] = field(default_factory=list)
    removed_memberships: list[str] = field(default_factory=list)
    updates: dict[str, list[str]] = field(default_factory=dict)  # "institution wh-x" → fields

    @property
    def changed(self) -> bool:
        """Whether the load wrote anything (alliances left out of the file are only reported)."""
        return any(
            t.created or t.updated or (t.removed and kind != "alliances")
            for kind, t in self.tallies.items()
        )

    def counts(self) -> dict[str, dict[str, int]]:
        return {kind: dataclasses.asdict(tally) for kind, tally in self.tallies.items()}

    def summary_lines(self) -> list[str]:
        lines = [f"{self.city}: {self.source} (format version {self.version})"]
        for kind, tally in self.tallies.items():
            lines.append(
                f"  {kind}: {tally.created} created, {tally.updated} updated, "
                f"{tally.unchanged} unchanged, {tally.removed} {_REMOVED_WORD[kind]}"
            )
        for label, items in (
            ("districts deactivated, no longer in the file (已停用)", self.deactivated_districts),
            ("deactivated, no longer in the file (已停用)", self.deactivated_institutions),
            ("departments retired: no longer accept referrals", self.retired_departments),
            ("alliances not in the file, kept as they are", self.alliances_not_in_file),
            ("memberships removed", self.removed_memberships),
        ):
            if items:
                lines.append(f"  {label}: {', '.join(items)}")
        lines.extend(
            f"  updated {what}: {', '.join(names)}" for what, names in self.updates.items()
        )
        if self.dry_run:
            lines.append("试运行，已回滚 (dry run: nothing was written)")
        elif self.changed:
            lines.append("已载入 (loaded)")
        else:
            lines.append("无变化 (unchanged: the database already matches the file)")
        return lines


def _assign(instance: models.Model, values: dict[str, Any]) -> list[str]:
    """Set the values that differ; return the names of the fields changed."""
    changed = [name for name, value in values.items() if getattr(instance, name) != value]
    for name in changed:
        setattr(instance, name, values[name])
    return changed


def _upsert(
    report: LoadReport,
    kind: str,
    label: str,
    existing: models.Model | None,
    values: dict[str, Any],
    create: dict[str, Any],
) -> Any:
    """Create the row (with the `create` keys and the values) or update what differs."""
    tally = report.tallies[kind]
    model = {
        "districts": District,
        "institutions": Institution,
        "departments": Department,
        "alliances": Alliance,
        "memberships": AllianceMembership,
    }[kind]
    if existing is None:
        tally.created += 1
        return model._default_manager.create(**create, **values)
    changed = _assign(existing, values)
    if changed:
        existing.save(update_fields=changed)
        tally.updated += 1
        report.updates[label] = [model._meta.get_field(name).name for name in changed]
    else:
        tally.unchanged += 1
    return existing


def _apply_districts(spec: NetworkSpec, report: LoadReport) -> None:
    existing = {d.code: d for d in District.objects.select_for_update().order_by("code")}
    in_file = set()
    for item in spec.districts:
        in_file.add(item.code)
        values = {
            "name": item.name,
            "name_en": item.name_en,
            "population": item.population,
            "active": True,
        }
        _upsert(
            report,
            "districts",
            f"district {item.code}",
            existing.get(item.code),
            values,
            {"code": item.code},
        )
    # Residents and institutions keep referring to a district that left the file: it is kept,
    # inactive, and takes no new residents.
    for code, district in existing.items():
        if code not in in_file and district.active:
            district.active = False
            district.save(update_fields=["active"])
            report.tallies["districts"].removed += 1
            report.deactivated_districts.append(code)


def _apply_institutions(spec: NetworkSpec, report: LoadReport) -> dict[str, Institution]:
    existing = {i.code: i for i in Institution.objects.select_for_update().order_by("code")}
    by_code: dict[str, Institution] = {}
    for item in spec.institutions:
        values = {
            "name": item.name,
            "name_en": item.name_en,
            "tier": item.tier,
            "category": item.category,
            "grade": item.grade,
            "district_id": item.district,
            "beds": item.beds,
            "phone": item.phone,
            "is_sample_name": item.is_sample_name,
            "active": True,
        }
        by_code[item.code] = _upsert(
            report,
            "institutions",
            f"institution {item.code}",
            existing.get(item.code),
            values,
            {"code": item.code},
        )
    for code, institution in existing.items():
        if code not in by_code and institution.active:
            institution.active = False
            institution.save(update_fields=["active"])
            report.tallies["institutions"].removed += 1
            report.deactivated_institutions.append(code)
    return by_code


def _apply_departments(
    spec: NetworkSpec, report: LoadReport, institutions: dict[str, Institution]
) -> None:
    ids = [institution.pk for institution in institutions.values()]
    existing = {
        (d.institution_id, d.code): d
        for d in Department.objects.select_for_update().filter(institution_id__in=ids)
    }
    in_file = set()
    for item in spec.institutions:
        institution = institutions[item.code]
        for department in item.departments:
            key = (institution.pk, department.code)
            in_file.add(key)
            values = {
                "name": department.name,
                "specialty": department.specialty,
                "accepts_referrals": department.accepts_referrals,
                "referral_slots_per_day": department.referral_slots_per_day,
            }
            _upsert(
                report,
                "departments",
                f"department {item.code}/{department.code}",
                existing.get(key),
                values,
                {"institution": institution, "code": department.code},
            )
    codes = {institution.pk: code for code, institution in institutions.items()}
    # A department no longer in the file may have encounters and referrals: it is kept, but it
    # stops taking referrals (the model has no "active" flag for departments).
    for key, gone in sorted(existing.items()):
        if key in in_file:
            continue
        if gone.accepts_referrals or gone.referral_slots_per_day:
            gone.accepts_referrals = False
            gone.referral_slots_per_day = 0
            gone.save(update_fields=["accepts_referrals", "referral_slots_per_day"])
            report.tallies["departments"].removed += 1
            report.retired_departments.append(f"{codes[key[0]]}/{gone.code}")


def _apply_alliances(
    spec: NetworkSpec, report: LoadReport, institutions: dict[str, Institution]
) -> None:
    existing = {a.code: a for a in Alliance.objects.select_for_update().order_by("code")}
    alliances: dict[str, Alliance] = {}
    for item in spec.alliances:
        values = {"name": item.name, "kind": item.kind, "district_id": item.district or None}
        alliances[item.code] = _upsert(
            report,
            "alliances",
            f"alliance {item.code}",
            existing.get(item.code),
            values,
            {"code": item.code},
        )
    report.alliances_not_in_file = sorted(set(existing) - set(alliances))
    report.tallies["alliances"].removed = len(report.alliances_not_in_file)

    codes = {institution.pk: code for code, institution in institutions.items()}
    current = {
        (m.alliance_id, m.institution_id, m.start_date): m
        for m in AllianceMembership.objects.select_for_update()
        .filter(alliance_id__in=[a.pk for a in alliances.values()])
        .select_related("institution")
    }
    wanted = {
        (alliances[a.code].pk, institutions[m.institution].pk, m.start_date): (a.code, m)
        for a in spec.alliances
        for m in a.members
    }
    alliance_codes = {alliance.pk: code for code, alliance in alliances.items()}
    # The file holds every membership of the alliances it lists; one that left it is deleted
    # first, so the "one current lead" constraint holds at every step.
    for key in sorted(set(current) - set(wanted)):
        membership = current.pop(key)
        membership.delete()
        report.tallies["memberships"].removed += 1
        report.removed_memberships.append(
            f"{alliance_codes[key[0]]}:{membership.institution.code}:{key[2].isoformat()}"
        )

    def becomes_current_lead(item: tuple[Any, tuple[str, MembershipSpec]]) -> bool:
        member = item[1][1]
        return member.role == MembershipRole.LEAD and member.end_date is None

    # Then every row that stops (or never is) the current lead, and the current leads last.
    for key, (alliance_code, member) in sorted(wanted.items(), key=becomes_current_lead):
        membership_values: dict[str, Any] = {"role": member.role, "end_date": member.end_date}
        _upsert(
            report,
            "memberships",
            f"membership {alliance_code}:{codes[key[1]]}:{member.start_date.isoformat()}",
            current.get(key),
            membership_values,
            {"alliance_id": key[0], "institution_id": key[1], "start_date": key[2]},
        )


def _lock_network() -> None:
    """One load at a time: on PostgreSQL a transaction-scoped advisory lock, so a second
    concurrent load waits and then finds everything unchanged (rather than colliding on codes).
    SQLite serializes writers by itself."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])


def network_apply(
    *, spec: NetworkSpec, actor: User | None, source: str, dry_run: bool = False
) -> LoadReport:
    """Upsert a validated network in one transaction; record one audit event when it changed
    something.

    Idempotent: applying the same spec twice changes nothing the second time. With ``dry_run``
    the same work is done and then rolled back, so the report says what a load would change."""
    report = LoadReport(
        source=source, city=spec.city, version=spec.version, sha256=spec.sha256, dry_run=dry_run
    )
    with transaction.atomic():
        _lock_network()
        _apply_districts(spec, report)
        institutions = _apply_institutions(spec, report)
        _apply_departments(spec, report, institutions)
        _apply_alliances(spec, report, institutions)
        if dry_run:
            transaction.set_rollback(True)
        elif report.changed:  # a load that finds everything in place records nothing
            audit_record(
                actor=actor,
                action="network_load",
                object_type="network",
                object_id=spec.city,
                details={
                    "source": source,
                    "sha256": spec.sha256,
                    "version": spec.version,
                    "counts": report.counts(),
                    "deactivated_districts": report.deactivated_districts,
                    "deactivated_institutions": report.deactivated_institutions,
                    "retired_departments": report.retired_departments,
                    "alliances_not_in_file": report.alliances_not_in_file,
                    "removed_memberships": report.removed_memberships,
                    "updates": report.updates,
                },
            )
    return report


def network_load(
    *, path: str | Path, actor: User | None = None, dry_run: bool = False
) -> LoadReport:
    """Validate the whole file, then apply it. A bad file raises NetworkFileInvalid and writes
    nothing."""
    spec = network_file_parse(path)
    return network_apply(spec=spec, actor=actor, source=str(path), dry_run=dry_run)


__all__ = [
    "DEFAULT_NETWORK_FILE",
    "FORMAT_VERSION",
    "LoadReport",
    "NetworkFileInvalid",
    "NetworkSpec",
    "Problem",
    "district_population",
    "network_apply",
    "network_file_parse",
    "network_load",
]
