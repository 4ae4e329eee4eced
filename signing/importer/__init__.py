"""Bulk import of existing contracts from CSV or XLSX (DESIGN §5).

Columns (header row, any order, case-insensitive):
  national_id*, team_code*, start_date*, end_date, packages, signed_method, signed_at,
  guardian_name, guardian_relationship            (* required)

- Dates are ISO (2026-03-01, also 2026/03/01) or spreadsheet dates; end_date defaults to a
  one-year term. packages: codes separated by ";" "," "|" or spaces; basic is always included.
- signed_method: in_person (default) / e_signature / guardian; a minor needs guardian.
- The status follows the dates on the import day: active, renewal_due (≤ 30 days to the end or
  in the grace period) or expired.

Every bad row is reported with its row number (the header is row 1), field, code and reason;
the good rows land. A row whose resident + team + start_date already exists is unchanged, so a
re-import of the same file changes nothing. The rules are the services' (signing.rules, the
one national-ID parser), so a row is refused with the code the API would answer.

Three parts: files.py reads the file; evaluation.py decides each row through the rules (pure);
store.py reads a chunk's facts and writes its contracts. Fast path: rows are processed in
chunks; per chunk the teams involved are locked and counted once, residents resolved by their
keyed national-ID hash in one query, tags and existing contracts read in one query each, and
contracts, their packages and their follow-ups written in bulk.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from healthnet.errors import DomainError, Forbidden
from healthnet.models import User
from healthnet.services import audit_record
from signing import permissions, rules
from signing.importer.evaluation import (
    Catalogue,
    Known,
    ParsedRow,
    RowError,
    evaluate_chunk,
    parse_row,
    row_error,
)
from signing.importer.files import read_rows
from signing.importer.store import chunk_facts_locked, contracts_insert
from signing.models import FamilyDoctorTeam
from signing.terms import catalogue_active, followup_plan, package_facts, package_terms

__all__ = ["API_MAX_ERRORS", "CHUNK_SIZE", "ImportReport", "RowError", "contracts_import"]

CHUNK_SIZE = 5000
API_MAX_ERRORS = 1000


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    unchanged: int = 0
    follow_ups: int = 0
    errors: list[RowError] = field(default_factory=list)


class _Importer:
    def __init__(self, *, actor: User | None, today: dt.date, with_follow_ups: bool) -> None:
        self.actor = actor
        self.today = today
        self.with_follow_ups = with_follow_ups
        self.report = ImportReport()
        self.teams = {t.code: t for t in FamilyDoctorTeam.objects.select_related("institution")}
        self.packages = catalogue_active()
        self.catalogue = Catalogue(
            facts={code: package_facts(p) for code, p in self.packages.items()},
            terms={code: package_terms(p) for code, p in self.packages.items()},
        )
        rules.basic_package(self.catalogue.facts)  # no catalogue: the whole import is refused
        self._plans: dict[tuple[Any, ...], list[tuple[int, dt.date]]] = {}
        # Residents given a contract by an earlier chunk of this same file.
        self.seen: dict[int, list[Known]] = defaultdict(list)

    def may_import_into(self, team: FamilyDoctorTeam) -> bool:
        return permissions.can_import_into_team(self.actor, team)

    def chunk(self, raw: list[tuple[int, dict[str, Any]]]) -> None:
        parsed: list[ParsedRow] = []
        for number, values in raw:
            try:
                parsed.append(
                    parse_row(
                        number,
                        values,
                        teams=self.teams,
                        catalogue=self.catalogue,
                        may_import_into=self.may_import_into,
                    )
                )
            except DomainError as error:
                self.report.errors.append(row_error(number, error))
        if not parsed:
            return
        for attempt in range(2):
            try:
                with transaction.atomic():
                    self._write(parsed)
                return
            except IntegrityError:
                # A contract signed online for one of these residents between our read and write
                # (the one-active-contract constraint caught it): read again and re-evaluate.
                if attempt == 1:
                    raise

    def _write(self, rows: list[ParsedRow]) -> None:
        outcome = evaluate_chunk(
            rows,
            chunk_facts_locked(rows),
            catalogue=self.catalogue,
            today=self.today,
            seen=self.seen,
        )
        follow_ups = contracts_insert(
            outcome.new,
            packages=self.packages,
            actor=self.actor,
            plan=self._plan if self.with_follow_ups else None,
        )
        # Only now, with the chunk written, does the report take this chunk's outcome.
        self.report.errors.extend(outcome.errors)
        self.report.unchanged += outcome.unchanged
        self.report.created += len(outcome.new)
        self.report.follow_ups += follow_ups
        for resident_id, entries in outcome.added.items():
            self.seen[resident_id].extend(entries)

    def _plan(
        self, start: dt.date, end: dt.date, codes: tuple[str, ...]
    ) -> list[tuple[int, dt.date]]:
        """followup_plan, memoised: many rows share a term and a package set."""
        key = (start, end, codes)
        plan = self._plans.get(key)
        if plan is None:
            packages = [self.packages[code] for code in codes]
            plan = [(item.pk, due) for item, due in followup_plan(start, end, packages)]
            self._plans[key] = plan
        return plan


def contracts_import(
    *,
    actor: User | None,
    file: IO[bytes],
    filename: str,
    today: dt.date | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
    with_follow_ups: bool = True,
) -> ImportReport:
    """Import a CSV/XLSX of existing contracts. `actor` None = the system (management command)."""
    if not permissions.can_import_contracts(actor):
        raise Forbidden(
            "forbidden", "只有机构管理员可以导入签约 (only an institution admin may import)"
        )
    importer = _Importer(
        actor=actor, today=today or timezone.localdate(), with_follow_ups=with_follow_ups
    )
    chunk: list[tuple[int, dict[str, Any]]] = []
    for number, values in read_rows(file, filename):
        importer.report.rows += 1
        chunk.append((number, values))
        if len(chunk) >= chunk_size:
            importer.chunk(chunk)
            if progress:
                progress(len(chunk))
            chunk = []
    if chunk:
        importer.chunk(chunk)
        if progress:
            progress(len(chunk))
    report = importer.report
    report.errors.sort(key=lambda e: e.row)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="contract_import",
            object_type="contract",
            details={
                "filename": filename[:200],
                "rows": report.rows,
                "created": report.created,
                "unchanged": report.unchanged,
                "errors": len(report.errors),
            },
        )
    return report
