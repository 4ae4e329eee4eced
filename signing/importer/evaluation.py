"""Evaluating import rows through signing.rules: pure, no query. A row is first checked on its
own (`parse_row`: the ID number, team, dates, packages known, consent), then with the chunk's
database facts (`evaluate_chunk`: resident known, already imported, one contract at a time,
package eligibility, team capacity). Every rule is signing.rules' (or the one ID parser); a
refusal's field is mapped to the file's column."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from healthnet.errors import DomainError, InvalidInput
from healthnet.national_id import mask_national_id, national_id_hash, parse_national_id
from signing import rules
from signing.importer.files import cell_date, cell_text
from signing.lifecycle import holds_place
from signing.models import FamilyDoctorTeam, SignatureMethod
from signing.terms import terms_document, terms_hash

_PACKAGE_SEPARATORS = re.compile(r"[;,|\s]+")
# Where a rule's input field is in the file.
COLUMN_OF_FIELD = {
    "team": "team_code",
    "resident": "national_id",
    "signed_by": "signed_method",
    "method": "signed_method",
}


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    code: str
    message: str
    # What the row held in that column, as the error report shows it (an ID number masked).
    value: str = ""


def shown_value(column: str, values: Mapping[str, Any] | None) -> str:
    """The row's cell in `column` for the error report: at most 200 characters, an ID number
    masked like everywhere else (1503**********123X)."""
    if not values or not column:
        return ""
    text = cell_text(values.get(column))[:200]
    if column == "national_id" and len(text) >= 8:
        return mask_national_id(text)
    return text


def row_error(
    number: int,
    error: DomainError,
    *,
    values: Mapping[str, Any] | None = None,
    default_field: str = "",
) -> RowError:
    name = str(error.details.get("field") or default_field)
    column = COLUMN_OF_FIELD.get(name, name)
    return RowError(number, column, error.code, error.message, shown_value(column, values))


@dataclass(frozen=True)
class Catalogue:
    """The active packages as the rules see them, and each one's part of the terms document."""

    facts: Mapping[str, rules.PackageFacts]
    terms: Mapping[str, dict[str, Any]]


@dataclass(frozen=True)
class ParsedRow:
    number: int
    lookup: str  # the keyed hash of the ID number
    team: FamilyDoctorTeam
    start: dt.date
    end: dt.date
    requested: tuple[str, ...]
    signed_by: str
    method: str
    signed_at: dt.datetime
    guardian_name: str
    guardian_relationship: str
    values: Mapping[str, Any] = field(default_factory=dict, compare=False)


def _date(values: dict[str, Any], column: str, what: str) -> dt.date | None:
    try:
        return cell_date(values.get(column))
    except ValueError:
        raise InvalidInput(
            "date_invalid", f"{what}格式错误 (bad date, use YYYY-MM-DD)", field=column
        ) from None


def parse_row(
    number: int,
    values: dict[str, Any],
    *,
    teams: Mapping[str, FamilyDoctorTeam],
    catalogue: Catalogue,
    may_import_into: Callable[[FamilyDoctorTeam], bool],
) -> ParsedRow:
    """The checks one row allows on its own. Raises a DomainError (its field: a rule's field)."""
    identity = parse_national_id(cell_text(values.get("national_id")))
    team_code = cell_text(values.get("team_code"))
    team = teams.get(team_code)
    if team is None:
        raise InvalidInput(
            "team_unknown", f"未知的团队代码: {team_code} (unknown team)", field="team_code"
        )
    rules.team_open_check(active=team.active)
    if not may_import_into(team):
        raise InvalidInput(
            "team_out_of_scope",
            "不能导入其他机构的团队 (not your institution)",
            field="team_code",
        )
    start = _date(values, "start_date", "起始日期")
    if start is None:
        raise InvalidInput(
            "date_required", "起始日期必填 (start_date is required)", field="start_date"
        )
    end = _date(values, "end_date", "结束日期") or rules.term_end(start)
    rules.term_check(start=start, end=end)
    requested = tuple(c for c in _PACKAGE_SEPARATORS.split(cell_text(values.get("packages"))) if c)
    rules.packages_known_check(requested, catalogue.facts)
    signed_on = _date(values, "signed_at", "签署日期") or start
    method = cell_text(values.get("signed_method")) or SignatureMethod.IN_PERSON
    signed_by = rules.signatory_of_method(method)
    method = rules.signatory_check(
        signed_by=signed_by,
        method=method,
        guardian_needed=rules.needs_guardian(birth_date=identity.birth_date, on=signed_on),
    )
    return ParsedRow(
        number=number,
        lookup=national_id_hash(identity.number),
        team=team,
        start=start,
        end=end,
        requested=requested,
        signed_by=signed_by,
        method=method,
        signed_at=dt.datetime.combine(
            signed_on, dt.time(9, 0), tzinfo=timezone.get_default_timezone()
        ),
        guardian_name=cell_text(values.get("guardian_name"))[:50],
        guardian_relationship=cell_text(values.get("guardian_relationship"))[:20],
        values=values,
    )


@dataclass(frozen=True)
class Known:
    """A contract of a resident already in the database or imported earlier in this file."""

    team_id: int
    start: dt.date
    end: dt.date
    status: str


@dataclass(frozen=True)
class ResidentFacts:
    pk: int
    public_id: uuid.UUID
    birth_date: dt.date


@dataclass
class ChunkFacts:
    """What the database holds for a chunk, read once under the teams' locks."""

    loads: dict[int, int]  # team pk → places held
    residents: dict[str, ResidentFacts]  # by the keyed ID hash
    tags: dict[int, set[str]]  # resident pk → registry population tags
    contracts: dict[int, list[Known]]  # resident pk → their contracts


@dataclass
class NewContract:
    public_id: uuid.UUID
    resident_id: int
    row: ParsedRow
    status: str
    packages: list[str]
    terms_hash: str


@dataclass
class ChunkOutcome:
    new: list[NewContract] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    unchanged: int = 0
    # resident pk → the contracts this chunk adds (the next chunks see them)
    added: dict[int, list[Known]] = field(default_factory=lambda: defaultdict(list))


def evaluate_chunk(
    rows: list[ParsedRow],
    facts: ChunkFacts,
    *,
    catalogue: Catalogue,
    today: dt.date,
    seen: Mapping[int, list[Known]],
) -> ChunkOutcome:
    """Decide each row of the chunk against the database facts, the rows imported by earlier
    chunks (`seen`) and the rows before it in this chunk."""
    outcome = ChunkOutcome()
    loads = dict(facts.loads)
    for row in rows:
        resident = facts.residents.get(row.lookup)
        if resident is None:
            outcome.errors.append(
                RowError(
                    row.number,
                    "national_id",
                    "resident_unknown",
                    "未找到该身份证号码的居民 (no such resident)",
                    shown_value("national_id", row.values),
                )
            )
            continue
        known = [
            *facts.contracts.get(resident.pk, ()),
            *seen.get(resident.pk, ()),
            *outcome.added.get(resident.pk, ()),
        ]
        if any(k.team_id == row.team.pk and k.start == row.start for k in known):
            outcome.unchanged += 1
            continue
        status = rules.contract_status_on(row.start, row.end, today)
        try:
            new = _decide(row, resident, status, known, facts, loads, catalogue, today)
        except DomainError as error:
            outcome.errors.append(row_error(row.number, error, values=row.values))
            continue
        outcome.new.append(new)
        outcome.added[resident.pk].append(Known(row.team.pk, row.start, row.end, status))
    return outcome


def _decide(
    row: ParsedRow,
    resident: ResidentFacts,
    status: str,
    known: list[Known],
    facts: ChunkFacts,
    loads: dict[int, int],
    catalogue: Catalogue,
    today: dt.date,
) -> NewContract:
    place = holds_place(status)
    rules.term_clash_check(
        start=row.start,
        end=row.end,
        will_hold_place=place,
        others=[rules.OtherTerm(k.start, k.end, k.status) for k in known],
    )
    # Eligibility holds for every row, a historical (expired) one too.
    packages = rules.packages_choose(
        row.requested,
        catalogue=catalogue.facts,
        populations=rules.key_populations(
            facts.tags.get(resident.pk, ()),
            resident.birth_date,
            rules.eligibility_day(start=row.start, today=today),
        ),
    )
    if place:
        load = loads.get(row.team.pk, 0)
        rules.team_room_check(team_code=row.team.code, load=load, capacity=row.team.capacity)
        loads[row.team.pk] = load + 1
    public_id = uuid.uuid4()
    digest = terms_hash(
        terms_document(
            contract_id=str(public_id),
            resident_id=str(resident.public_id),
            team_code=row.team.code,
            start_date=row.start,
            end_date=row.end,
            terms_of_packages=[catalogue.terms[code] for code in packages],
        )
    )
    return NewContract(
        public_id=public_id,
        resident_id=resident.pk,
        row=row,
        status=status,
        packages=packages,
        terms_hash=digest,
    )
