"""Bulk import of existing contracts from CSV or XLSX (docs/design.md §5).

Columns (header row, any order, case-insensitive):
  national_id*, team_code*, start_date*, end_date, packages, signed_method, signed_at,
  guardian_name, guardian_relationship            (* required)

- Dates are ISO (2026-03-01, also 2026/03/01) or spreadsheet dates; end_date defaults to a
  one-year term. packages: codes separated by ";" "," "|" or spaces; basic is always included.
- signed_method: in_person (default) / e_signature / guardian; a minor needs guardian.
- The status follows the dates on the import day: active, renewal_due (≤ 30 days to the end or
  in the grace period) or expired.

Every bad row is reported with its row number (the header is row 1), field, code and reason;
the good rows land. The errors are not all kept: each goes to `on_error` as it is found (a job's
XLSX report, the command's CSV, streamed to disk), the report keeps the first ERRORS_KEPT and
counts them all (issue 9 item 17).

A row whose resident + team + start_date already exists is unchanged, so a re-import of the same
file changes nothing. The rules are the services' (signing.rules, the one national-ID parser),
so a row is refused with the code the API would answer.

The parts: files.py reads the file (archive.py checks an XLSX before it is parsed, limits.py
holds the limits); evaluation.py decides each row through the rules (pure); store.py reads a
chunk's facts and writes its contracts; report.py writes the error report.

Fast path: rows are processed in chunks; per chunk the teams involved are locked and counted
once, residents resolved by their keyed national-ID hash in one query, tags and existing
contracts read in one query each, and contracts, their packages and their follow-ups written in
bulk.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from healthnet.errors import DomainError, Forbidden, InvalidInput
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
from signing.importer.limits import ERRORS_KEPT
from signing.importer.store import chunk_facts_locked, contracts_insert
from signing.models import FamilyDoctorTeam
from signing.terms import catalogue_active, followup_plan, package_facts, package_terms

__all__ = [
    "API_MAX_ERRORS",
    "CHUNK_SIZE",
    "ImportReport",
    "RowError",
    "contracts_import",
]

CHUNK_SIZE = 5000
API_MAX_ERRORS = ERRORS_KEPT


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    unchanged: int = 0
    follow_ups: int = 0
    # The first `errors_kept` row errors, in row order; `error_count` counts them all.
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    errors_kept: int = ERRORS_KEPT

    @property
    def errors_truncated(self) -> bool:
        return self.error_count > len(self.errors)

    def add_errors(self, errors: list[RowError], sink: Callable[[RowError], None] | None) -> None:
        """Take a chunk's errors (sorted here: chunks come in row order, so the whole stream is)."""
        for error in sorted(errors, key=lambda e: e.row):
            self.error_count += 1
            if len(self.errors) < self.errors_kept:
                self.errors.append(error)
            if sink is not None:
                sink(error)


class _Importer:
    def __init__(
        self,
        *,
        actor: User | None,
        today: dt.date,
        with_follow_ups: bool,
        on_error: Callable[[RowError], None] | None,
        keep_errors: int,
    ) -> None:
        self.actor = actor
        self.today = today
        self.with_follow_ups = with_follow_ups
        self.on_error = on_error
        self.report = ImportReport(errors_kept=keep_errors)
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

    def chunk(self, raw: list[tuple[int, dict[str, Any] | InvalidInput]]) -> None:
        parsed: list[ParsedRow] = []
        errors: list[RowError] = []
        for number, values in raw:
            if isinstance(values, InvalidInput):  # the file's reader could not read the row
                errors.append(row_error(number, values))
                continue
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
                errors.append(row_error(number, error, values=values))
        if parsed:
            for attempt in range(2):
                try:
                    with transaction.atomic():
                        errors.extend(self._write(parsed))
                    break
                except IntegrityError:
                    # A contract signed online for one of these residents between our read and
                    # write (the one-active-contract constraint caught it): read again and
                    # re-evaluate.
                    if attempt == 1:
                        raise
        self.report.add_errors(errors, self.on_error)

    def _write(self, rows: list[ParsedRow]) -> list[RowError]:
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
        self.report.unchanged += outcome.unchanged
        self.report.created += len(outcome.new)
        self.report.follow_ups += follow_ups
        for resident_id, entries in outcome.added.items():
            self.seen[resident_id].extend(entries)
        return outcome.errors

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
    on_total: Callable[[int | None], None] | None = None,
    on_error: Callable[[RowError], None] | None = None,
    keep_errors: int = ERRORS_KEPT,
    chunk_size: int = CHUNK_SIZE,
    with_follow_ups: bool = True,
) -> ImportReport:
    """Import a CSV/XLSX of existing contracts. `actor` None = the system (management command).

    `progress` hears the rows read after each chunk, `on_total` the estimated number of rows
    first, `on_error` every row error in row order as it is found; the report keeps the first
    `keep_errors` of them."""
    if not permissions.can_import_contracts(actor):
        raise Forbidden(
            "forbidden", "只有机构管理员可以导入签约 (only an institution admin may import)"
        )
    importer = _Importer(
        actor=actor,
        today=today or timezone.localdate(),
        with_follow_ups=with_follow_ups,
        on_error=on_error,
        keep_errors=keep_errors,
    )
    chunk: list[tuple[int, dict[str, Any] | InvalidInput]] = []
    for number, values in read_rows(file, filename, on_total=on_total):
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
                "errors": report.error_count,
            },
        )
    return report
