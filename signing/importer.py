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
re-import of the same file changes nothing.

Fast path: rows are processed in chunks; per chunk the teams involved are locked and counted
once, residents resolved by their keyed national-ID hash in one query, existing contracts read in
one query, and contracts, their packages and their follow-ups written with bulk_create.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import io
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone
from stdnum.cn import ric

from healthnet.errors import DomainError, Forbidden, InvalidInput
from healthnet.models import Resident, ResidentPopulationTag, User
from healthnet.national_id import national_id_hash, parse_national_id
from healthnet.populations import age_on, age_populations
from healthnet.services import audit_record
from signing import permissions
from signing.bulk import copy_rows, reserve_ids
from signing.models import (
    ACTIVE_STATUSES,
    ADULT_AGE,
    Contract,
    ContractSource,
    ContractStatus,
    FamilyDoctorTeam,
    FollowUp,
    FollowUpStatus,
    PackageKind,
    ServicePackage,
    Signatory,
    SignatureMethod,
)
from signing.terms import (
    contract_status_on,
    followup_plan,
    package_terms,
    packages_with_items,
    term_end,
    terms_document,
    terms_hash,
)

REQUIRED_COLUMNS = ("national_id", "team_code", "start_date")
OPTIONAL_COLUMNS = (
    "end_date",
    "packages",
    "signed_method",
    "signed_at",
    "guardian_name",
    "guardian_relationship",
)
CHUNK_SIZE = 5000
API_MAX_ERRORS = 1000
MAX_TERM_DAYS = 366
SIGNATURE_METHODS = frozenset(SignatureMethod.values)
_PACKAGE_SEPARATORS = re.compile(r"[;,|\s]+")


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    code: str
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    unchanged: int = 0
    follow_ups: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self, *, max_errors: int | None = None) -> dict[str, Any]:
        shown = self.errors if max_errors is None else self.errors[:max_errors]
        return {
            "rows": self.rows,
            "created": self.created,
            "unchanged": self.unchanged,
            "follow_ups": self.follow_ups,
            "error_count": len(self.errors),
            "errors": [e.__dict__ for e in shown],
            "errors_truncated": len(shown) < len(self.errors),
        }


# --- reading ------------------------------------------------------------------------------------


def _rows_csv(handle: IO[bytes]) -> Iterator[list[Any]]:
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    try:
        yield from csv.reader(text)
    except UnicodeDecodeError:
        raise InvalidInput(
            "file_encoding", "CSV 须为 UTF-8 编码 (CSV must be UTF-8)", field="file"
        ) from None
    finally:
        # Leave the caller's file open; it may already be closed if we are garbage-collected.
        with contextlib.suppress(ValueError):
            text.detach()


def _rows_xlsx(handle: IO[bytes]) -> Iterator[tuple[Any, ...]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # a corrupt or non-XLSX file: openpyxl raises many kinds
        raise InvalidInput(
            "file_unreadable", f"无法读取 XLSX 文件 ({type(exc).__name__})", field="file"
        ) from None
    try:
        yield from workbook.active.iter_rows(values_only=True)
    finally:
        workbook.close()


def read_rows(handle: IO[bytes], filename: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, {column: value}) for each non-empty data row; the header is row 1."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        rows: Iterator[Any] = _rows_xlsx(handle)
    elif name.endswith(".csv"):
        rows = _rows_csv(handle)
    else:
        raise InvalidInput(
            "file_format", "仅支持 CSV 或 XLSX 文件 (CSV or XLSX only)", field="file"
        )
    header_row = next(rows, None)
    if header_row is None:
        raise InvalidInput("file_empty", "文件为空 (the file is empty)", field="file")
    header = [str(h or "").strip().lower() for h in header_row]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InvalidInput(
            "columns_missing",
            f"缺少必需的列: {', '.join(missing)} (missing required columns)",
            field="file",
            missing=missing,
        )
    wanted = [(i, h) for i, h in enumerate(header) if h in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    for number, values in enumerate(rows, start=2):
        if not values or all(v is None or str(v).strip() == "" for v in values):
            continue
        yield number, {h: (values[i] if i < len(values) else None) for i, h in wanted}


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value).replace("/", "-")
    if not text:
        return None
    return dt.date.fromisoformat(text[:10])  # ValueError on a bad date


# --- evaluation ---------------------------------------------------------------------------------


@dataclass
class _Row:
    number: int
    national_id: str
    lookup: str
    team: FamilyDoctorTeam
    start: dt.date
    end: dt.date
    packages: list[str]
    method: str
    signed_at: dt.datetime
    guardian_name: str
    guardian_relationship: str


class _RowRefused(Exception):
    def __init__(self, field_name: str, code: str, message: str) -> None:
        self.error = (field_name, code, message)


_ID_SHAPE = re.compile(r"\d{17}[\dX]")


@functools.lru_cache(maxsize=8192)
def _region_valid_in(region_and_year: str) -> tuple[str, str] | None:
    """Was the region code assigned in that birth year (stdnum's rule looks at the year only)?
    Checked once per region × year by the strict parser: None, or (code, message)."""
    body = region_and_year + "0101001"
    try:
        # stdnum's calc_check_digit ignores the last character it is given
        parse_national_id(body + ric.calc_check_digit(body + "0"))
    except DomainError as exc:
        return exc.code, exc.message
    return None


def _national_id(text: str, today: dt.date) -> tuple[str, dt.date]:
    """The checks of parse_national_id in stdnum's order (length, format, checksum, birth date,
    region), with the same error codes, fast enough for 200,000+ rows."""
    number = text.replace(" ", "").replace("-", "").upper()
    if len(number) != 18:
        raise _RowRefused(
            "national_id",
            "national_id_length",
            "身份证号码应为18位 (national ID must have 18 characters)",
        )
    if not _ID_SHAPE.fullmatch(number):
        raise _RowRefused("national_id", "national_id_format", "身份证号码格式错误 (bad format)")
    if ric.calc_check_digit(number) != number[17]:
        raise _RowRefused(
            "national_id",
            "national_id_checksum",
            "身份证号码校验位错误 (national ID checksum is wrong)",
        )
    try:
        birth_date = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        birth_date = None
    if birth_date is None or birth_date > today:
        raise _RowRefused(
            "national_id", "national_id_component", "身份证号码中的出生日期无效 (bad birth date)"
        )
    refused = _region_valid_in(number[:10])
    if refused is not None:
        raise _RowRefused("national_id", *refused)
    return number, birth_date


def _parse_row(
    number: int,
    values: dict[str, Any],
    *,
    teams: dict[str, FamilyDoctorTeam],
    catalogue: dict[str, ServicePackage],
    basic_code: str,
    actor: User | None,
    today: dt.date,
) -> _Row:
    national_id, birth_date = _national_id(_text(values.get("national_id")), today)
    team_code = _text(values.get("team_code"))
    team = teams.get(team_code)
    if team is None:
        raise _RowRefused(
            "team_code", "team_unknown", f"未知的团队代码: {team_code} (unknown team)"
        )
    if not team.active:
        raise _RowRefused("team_code", "team_inactive", "该团队已停止签约 (inactive team)")
    if not permissions.can_import_into_team(actor, team):
        raise _RowRefused(
            "team_code", "team_out_of_scope", "不能导入其他机构的团队 (not your institution)"
        )
    try:
        start = _date(values.get("start_date"))
    except ValueError:
        raise _RowRefused(
            "start_date", "date_invalid", "起始日期格式错误 (bad date, use YYYY-MM-DD)"
        ) from None
    if start is None:
        raise _RowRefused("start_date", "date_required", "起始日期必填 (start_date is required)")
    try:
        end = _date(values.get("end_date")) or term_end(start)
    except ValueError:
        raise _RowRefused(
            "end_date", "date_invalid", "结束日期格式错误 (bad date, use YYYY-MM-DD)"
        ) from None
    if not start < end <= start + dt.timedelta(days=MAX_TERM_DAYS):
        raise _RowRefused(
            "end_date",
            "date_invalid",
            "结束日期须晚于起始日期且不超过一年 (end after start, ≤ 1 year)",
        )
    codes = [c for c in _PACKAGE_SEPARATORS.split(_text(values.get("packages"))) if c]
    unknown = [c for c in codes if c not in catalogue]
    if unknown:
        raise _RowRefused("packages", "package_unknown", f"未知的服务包: {', '.join(unknown)}")
    method = _text(values.get("signed_method")) or SignatureMethod.IN_PERSON
    if method not in SIGNATURE_METHODS:
        raise _RowRefused("signed_method", "signature_method_invalid", f"未知的签署方式: {method}")
    if age_on(birth_date, start) < ADULT_AGE and method != SignatureMethod.GUARDIAN:
        raise _RowRefused(
            "signed_method",
            "guardian_required",
            "未成年人须由监护人签署 (a minor needs a guardian)",
        )
    try:
        signed_on = _date(values.get("signed_at")) or start
    except ValueError:
        raise _RowRefused("signed_at", "date_invalid", "签署日期格式错误 (bad date)") from None
    signed_at = dt.datetime.combine(
        signed_on, dt.time(9, 0), tzinfo=timezone.get_default_timezone()
    )
    return _Row(
        number=number,
        national_id=national_id,
        lookup=national_id_hash(national_id),
        team=team,
        start=start,
        end=end,
        packages=sorted({basic_code, *codes}),
        method=method,
        signed_at=signed_at,
        guardian_name=_text(values.get("guardian_name"))[:50],
        guardian_relationship=_text(values.get("guardian_relationship"))[:20],
    )


class _Importer:
    def __init__(self, *, actor: User | None, today: dt.date, with_follow_ups: bool) -> None:
        self.actor = actor
        self.today = today
        self.with_follow_ups = with_follow_ups
        self.report = ImportReport()
        self.teams = {t.code: t for t in FamilyDoctorTeam.objects.select_related("institution")}
        self.catalogue = {
            p.code: p
            for p in ServicePackage.objects.filter(active=True).prefetch_related(
                packages_with_items()
            )
        }
        basics = [p.code for p in self.catalogue.values() if p.kind == PackageKind.BASIC]
        if not basics:
            raise InvalidInput(
                "catalogue_missing", "服务包目录未加载 (load the package catalogue first)"
            )
        self.basic_code = basics[0]
        self.package_terms = {code: package_terms(p) for code, p in self.catalogue.items()}
        self._plans: dict[tuple, list[tuple[int, dt.date]]] = {}
        # Residents given a place (or a contract) by an earlier chunk of this same file.
        self.seen: dict[int, list[tuple[int, dt.date, dt.date, str]]] = defaultdict(list)

    def error(self, number: int, field_name: str, code: str, message: str) -> None:
        self.report.errors.append(RowError(number, field_name, code, message))

    def chunk(self, raw: list[tuple[int, dict[str, Any]]]) -> None:
        parsed: list[_Row] = []
        for number, values in raw:
            try:
                parsed.append(
                    _parse_row(
                        number,
                        values,
                        teams=self.teams,
                        catalogue=self.catalogue,
                        basic_code=self.basic_code,
                        actor=self.actor,
                        today=self.today,
                    )
                )
            except _RowRefused as refused:
                self.error(number, *refused.error)
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

    def _write(self, rows: list[_Row]) -> None:
        team_ids = sorted({r.team.pk for r in rows})
        list(FamilyDoctorTeam.objects.select_for_update().filter(pk__in=team_ids).order_by("pk"))
        load = dict(
            Contract.objects.filter(team_id__in=team_ids, status__in=ACTIVE_STATUSES)
            .values_list("team_id")
            .annotate(n=Count("pk"))
            .values_list("team_id", "n")
        )
        residents = {
            lookup: (pk, public_id, birth_date)
            for pk, public_id, lookup, birth_date in _where_in(
                Resident.objects.all(), "national_id_hash", [r.lookup for r in rows]
            ).values_list("pk", "public_id", "national_id_hash", "birth_date")
        }
        resident_ids = [v[0] for v in residents.values()]
        tags: dict[int, set[str]] = defaultdict(set)
        for resident_id, population in _where_in(
            ResidentPopulationTag.objects.all(), "resident_id", resident_ids
        ).values_list("resident_id", "population"):
            tags[resident_id].add(population)
        existing: dict[int, list[tuple[int, dt.date, dt.date, str]]] = defaultdict(list)
        for resident_id, team_id, start, end, status in _where_in(
            Contract.objects.all(), "resident_id", resident_ids
        ).values_list("resident_id", "team_id", "start_date", "end_date", "status"):
            existing[resident_id].append((team_id, start, end, status))

        new_contracts: list[_NewContract] = []
        errors: list[RowError] = []
        unchanged = 0
        in_chunk: dict[int, list[tuple[int, dt.date, dt.date, str]]] = defaultdict(list)
        for row in rows:
            found = residents.get(row.lookup)
            if found is None:
                errors.append(
                    RowError(
                        row.number,
                        "national_id",
                        "resident_unknown",
                        "未找到该身份证号码的居民 (no such resident)",
                    )
                )
                continue
            resident_id, resident_public_id, birth_date = found
            known = existing[resident_id] + self.seen[resident_id] + in_chunk[resident_id]
            if any(t == row.team.pk and s == row.start for t, s, _, _ in known):
                unchanged += 1
                continue
            status = contract_status_on(row.start, row.end, self.today)
            active = status in ACTIVE_STATUSES
            overlapping = any(
                st not in (ContractStatus.TERMINATED, ContractStatus.PENDING_SIGNATURE)
                and s <= row.end
                and row.start <= e
                for _, s, e, st in known
            ) or (active and any(st in ACTIVE_STATUSES for _, _, _, st in known))
            if overlapping:
                errors.append(
                    RowError(
                        row.number,
                        "start_date",
                        "contract_overlap",
                        "该居民在此期间已有签约 (overlaps an existing contract)",
                    )
                )
                continue
            offered = {*tags[resident_id], *age_populations(birth_date, max(row.start, self.today))}
            not_eligible = [
                c
                for c in row.packages
                if self.catalogue[c].kind != PackageKind.BASIC
                and self.catalogue[c].eligible_population not in offered
            ]
            if not_eligible:
                errors.append(
                    RowError(
                        row.number,
                        "packages",
                        "package_not_eligible",
                        f"居民不属于服务包适用人群: {', '.join(not_eligible)} (not eligible)",
                    )
                )
                continue
            if active:
                if load.get(row.team.pk, 0) >= row.team.capacity:
                    errors.append(
                        RowError(
                            row.number,
                            "team_code",
                            "team_full",
                            f"团队签约人数已满 ({row.team.capacity}) (the team is at capacity)",
                        )
                    )
                    continue
                load[row.team.pk] = load.get(row.team.pk, 0) + 1
            guardian = row.method == SignatureMethod.GUARDIAN
            public_id = uuid.uuid4()
            digest = terms_hash(
                terms_document(
                    contract_id=str(public_id),
                    resident_id=str(resident_public_id),
                    team_code=row.team.code,
                    start_date=row.start,
                    end_date=row.end,
                    terms_of_packages=[self.package_terms[c] for c in row.packages],
                )
            )
            new_contracts.append(
                _NewContract(
                    public_id=public_id,
                    resident_id=resident_id,
                    team_id=row.team.pk,
                    start=row.start,
                    end=row.end,
                    status=status,
                    signed_by=Signatory.GUARDIAN if guardian else Signatory.RESIDENT,
                    method=row.method,
                    guardian_name=row.guardian_name if guardian else "",
                    guardian_relationship=row.guardian_relationship if guardian else "",
                    signed_at=row.signed_at,
                    terms_hash=digest,
                    packages=row.packages,
                )
            )
            in_chunk[resident_id].append((row.team.pk, row.start, row.end, status))

        follow_ups = self._insert(new_contracts)
        # Only now, with the chunk written, does the report take this chunk's outcome.
        self.report.errors.extend(errors)
        self.report.unchanged += unchanged
        self.report.created += len(new_contracts)
        self.report.follow_ups += follow_ups
        for resident_id, entries in in_chunk.items():
            self.seen[resident_id].extend(entries)

    def _plan(self, start: dt.date, end: dt.date, codes: tuple[str, ...]):
        """followup_plan, memoised: many rows share a term and a package set."""
        key = (start, end, codes)
        plan = self._plans.get(key)
        if plan is None:
            packages = [self.catalogue[code] for code in codes]
            plan = [(item.pk, due) for item, due in followup_plan(start, end, packages)]
            self._plans[key] = plan
        return plan

    def _insert(self, new: list[_NewContract]) -> int:
        """Write the chunk's contracts, package links and follow-ups; returns follow-ups made.
        PostgreSQL: ids reserved from the sequence, rows streamed with COPY; others: bulk_create."""
        if not new:
            return 0
        now = timezone.now()
        actor_id = self.actor.pk if self.actor is not None else None
        if connection.vendor == "postgresql":
            ids = reserve_ids(Contract, len(new))
        else:
            objects = [
                Contract(
                    public_id=c.public_id,
                    resident_id=c.resident_id,
                    team_id=c.team_id,
                    start_date=c.start,
                    end_date=c.end,
                    status=c.status,
                    signed_by=c.signed_by,
                    signature_method=c.method,
                    guardian_name=c.guardian_name,
                    guardian_relationship=c.guardian_relationship,
                    signed_at=c.signed_at,
                    terms_hash=c.terms_hash,
                    source=ContractSource.IMPORT,
                    created_by_id=actor_id,
                )
                for c in new
            ]
            Contract.objects.bulk_create(objects, batch_size=2000)
            ids = [o.pk for o in objects]
        if connection.vendor == "postgresql":
            copy_rows(
                Contract,
                CONTRACT_COPY_COLUMNS,
                (
                    (
                        pk,
                        c.public_id,
                        c.resident_id,
                        c.team_id,
                        c.start,
                        c.end,
                        c.status,
                        "",
                        "",
                        None,
                        c.signed_by,
                        c.method,
                        c.guardian_name,
                        c.guardian_relationship,
                        "",
                        c.signed_at,
                        c.terms_hash,
                        None,
                        ContractSource.IMPORT.value,
                        actor_id,
                        now,
                        now,
                    )
                    for pk, c in zip(ids, new, strict=True)
                ),
            )
        links = [
            (pk, self.catalogue[code].pk)
            for pk, c in zip(ids, new, strict=True)
            for code in c.packages
        ]
        follow_ups = []
        if self.with_follow_ups:
            for pk, c in zip(ids, new, strict=True):
                if c.status not in ACTIVE_STATUSES:
                    continue
                for item_id, due in self._plan(c.start, c.end, tuple(c.packages)):
                    follow_ups.append((pk, item_id, due))
        through = Contract.packages.through
        if connection.vendor == "postgresql":
            copy_rows(through, ("contract_id", "servicepackage_id"), links)
            copy_rows(
                FollowUp,
                ("public_id", "contract_id", "item_id", "due_date", "status", "outcome"),
                (
                    (uuid.uuid4(), pk, item_id, due, FollowUpStatus.PENDING.value, "")
                    for pk, item_id, due in follow_ups
                ),
            )
        else:
            through.objects.bulk_create(
                [through(contract_id=a, servicepackage_id=b) for a, b in links], batch_size=5000
            )
            FollowUp.objects.bulk_create(
                [FollowUp(contract_id=a, item_id=b, due_date=d) for a, b, d in follow_ups],
                batch_size=5000,
            )
        return len(follow_ups)


CONTRACT_COPY_COLUMNS = (
    "id",
    "public_id",
    "resident_id",
    "team_id",
    "start_date",
    "end_date",
    "status",
    "terminated_reason",
    "terminated_note",
    "terminated_at",
    "signed_by",
    "signature_method",
    "guardian_name",
    "guardian_relationship",
    "guardian_national_id_hash",
    "signed_at",
    "terms_hash",
    "previous_contract_id",
    "source",
    "created_by_id",
    "created_at",
    "updated_at",
)


def _where_in(queryset, column: str, values: list):
    """`column IN values` for thousands of values: one array parameter on PostgreSQL (a list
    of placeholders that long costs more to build and parse than the query itself)."""
    if connection.vendor == "postgresql":
        return queryset.extra(where=[f'"{column}" = ANY(%s)'], params=[list(values)])  # noqa: S610
    return queryset.filter(**{f"{column}__in": values})


@dataclass
class _NewContract:
    public_id: uuid.UUID
    resident_id: int
    team_id: int
    start: dt.date
    end: dt.date
    status: str
    signed_by: str
    method: str
    guardian_name: str
    guardian_relationship: str
    signed_at: dt.datetime
    terms_hash: str
    packages: list[str]


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
