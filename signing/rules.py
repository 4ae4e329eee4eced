"""The rules of a contract (docs/design.md §5) as pure checks on plain values: no query, no model
instance. The services call them with what they read under their locks; the bulk import calls
them per row with what it read per chunk. There is no second copy of any of them.

A refusal is a healthnet.errors error with a stable `code` and, in `field`, the input it concerns
(the API's field name; the import maps it to its column). The numbers the rules use are the
constants of signing.models, bound here: a test that changes one here changes every path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from healthnet.errors import Conflict, InvalidInput
from healthnet.populations import age_on, age_populations
from signing.lifecycle import ContractStatus, holds_place
from signing.models import (
    ADULT_AGE,
    CAPACITY_WARNING_RATIO,
    FOLLOWUP_ON_TIME_DAYS,
    RENEWAL_GRACE_DAYS,
    RENEWAL_NOTICE_DAYS,
    FollowUpStatus,
    PackageKind,
    Signatory,
    SignatureMethod,
)

# The package kinds offered to every resident; any other needs the resident in its population.
OFFERED_TO_EVERYONE = frozenset({PackageKind.BASIC})
MAX_TERM_DAYS = 366  # a term is one year: 365 days, 366 over a 29 February
OFFER_START_WITHIN_DAYS = 90  # an offer starts between today and this many days ahead

# --- term dates and status ----------------------------------------------------------------------


def term_end(start: dt.date) -> dt.date:
    """A one-year term: 2026-03-01 → 2027-02-28 (the day before the anniversary)."""
    try:
        anniversary = start.replace(year=start.year + 1)
    except ValueError:  # 29 February
        anniversary = start.replace(year=start.year + 1, day=28) + dt.timedelta(days=1)
    return anniversary - dt.timedelta(days=1)


def term_check(*, start: dt.date, end: dt.date) -> None:
    """The end comes after the start, at most a year later."""
    if not start < end <= start + dt.timedelta(days=MAX_TERM_DAYS):
        raise InvalidInput(
            "date_invalid",
            "结束日期须晚于起始日期且不超过一年 (the end must follow the start, within a year)",
            field="end_date",
        )


def offer_start_check(*, start: dt.date, today: dt.date) -> None:
    if not today <= start <= today + dt.timedelta(days=OFFER_START_WITHIN_DAYS):
        raise InvalidInput(
            "start_date_invalid",
            f"起始日期须在今天到{OFFER_START_WITHIN_DAYS}天内 "
            f"(the start date must be within the next {OFFER_START_WITHIN_DAYS} days)",
            field="start_date",
        )


def contract_status_on(start: dt.date, end: dt.date, today: dt.date) -> str:
    """The status a signed contract with this term has on `today` (import and demo data): the
    periodic jobs' moves, as of that day."""
    if today > end + dt.timedelta(days=RENEWAL_GRACE_DAYS):
        return ContractStatus.EXPIRED
    if today >= end - dt.timedelta(days=RENEWAL_NOTICE_DAYS):
        return ContractStatus.RENEWAL_DUE
    return ContractStatus.ACTIVE


def renewal_due_from(today: dt.date) -> dt.date:
    """An active contract ending on or before this day is due for renewal."""
    return today + dt.timedelta(days=RENEWAL_NOTICE_DAYS)


def expired_before(today: dt.date) -> dt.date:
    """A contract due for renewal that ended before this day has expired (after the grace)."""
    return today - dt.timedelta(days=RENEWAL_GRACE_DAYS)


# --- packages -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageFacts:
    code: str
    kind: str
    population: str  # the key population a personalised package is for; "" for the basic one


def eligibility_day(*, start: dt.date, today: dt.date) -> dt.date:
    """Eligibility is judged on the start day, or today for a term that started already."""
    return max(start, today)


def basic_package(catalogue: Mapping[str, PackageFacts]) -> str:
    basics = sorted(code for code, p in catalogue.items() if p.kind == PackageKind.BASIC)
    if not basics:
        raise Conflict(
            "catalogue_missing", "服务包目录未加载 (the service package catalogue is not loaded)"
        )
    return basics[0]


def packages_offered(
    catalogue: Mapping[str, PackageFacts], populations: Collection[str]
) -> list[str]:
    """The basic package and the personalised ones for the resident's key populations."""
    return sorted(
        code
        for code, p in catalogue.items()
        if p.kind in OFFERED_TO_EVERYONE or p.population in populations
    )


def key_populations(tags: Iterable[str], birth_date: dt.date, on: dt.date) -> frozenset[str]:
    """The key populations eligibility is judged by: the registry tags and the age groups on
    the eligibility day (healthnet.populations)."""
    return frozenset({*tags, *age_populations(birth_date, on)})


def packages_known_check(requested: Iterable[str], catalogue: Mapping[str, PackageFacts]) -> None:
    unknown = [c for c in dict.fromkeys(requested) if c and c not in catalogue]
    if unknown:
        raise InvalidInput(
            "package_unknown",
            f"未知的服务包: {', '.join(unknown)} (unknown package)",
            field="packages",
            packages=unknown,
        )


def packages_choose(
    requested: Iterable[str],
    *,
    catalogue: Mapping[str, PackageFacts],
    populations: Collection[str],
) -> list[str]:
    """The codes of a contract's packages, sorted: the basic package always, plus each one asked
    for, which must be in the catalogue and, if personalised, for one of `populations` (the
    resident's key populations on the eligibility day)."""
    codes = [c for c in dict.fromkeys(requested) if c]
    packages_known_check(codes, catalogue)
    offered = set(packages_offered(catalogue, populations))
    not_eligible = [c for c in codes if c not in offered]
    if not_eligible:
        raise InvalidInput(
            "package_not_eligible",
            f"居民不属于服务包 {', '.join(not_eligible)} 的适用人群 (not eligible for the package)",
            field="packages",
            packages=not_eligible,
        )
    return sorted({basic_package(catalogue), *codes})


# --- team capacity ------------------------------------------------------------------------------


def team_room_check(*, team_code: str, load: int, capacity: int) -> None:
    """A team holding `load` places takes one more only below its capacity (100 %: refused)."""
    if load >= capacity:
        raise Conflict(
            "team_full",
            f"团队签约人数已满 ({load}/{capacity}) (the team is at capacity)",
            field="team",
            team=team_code,
            load=load,
            capacity=capacity,
        )


def capacity_warning(*, load: int, capacity: int) -> bool:
    """At ≥ 95 % of its capacity (after a signing) a team is warned."""
    return load >= capacity * CAPACITY_WARNING_RATIO


def team_open_check(*, active: bool) -> None:
    if not active:
        raise Conflict(
            "team_inactive",
            "该团队已停止签约 (this team no longer signs residents)",
            field="team",
        )


# --- one contract at a time ---------------------------------------------------------------------


@dataclass(frozen=True)
class OtherTerm:
    """Another contract of the same resident: its term and status."""

    start: dt.date
    end: dt.date
    status: str


def term_clash_check(
    *, start: dt.date, end: dt.date, will_hold_place: bool, others: Iterable[OtherTerm]
) -> None:
    """One contract holding a place per resident; and no two signed terms overlap (an offer or a
    terminated contract does not count). Says nothing of the other contract: where it is may be
    out of the caller's scope."""
    others = list(others)
    if will_hold_place and any(holds_place(o.status) for o in others):
        raise Conflict(
            "active_contract_exists",
            "该居民已有有效签约，一人只能签约一个团队 "
            "(the resident already has an active contract)",
            field="resident",
        )
    ignored = (ContractStatus.TERMINATED, ContractStatus.PENDING_SIGNATURE)
    if any(o.status not in ignored and o.start <= end and start <= o.end for o in others):
        raise Conflict(
            "contract_overlap",
            "该居民在此期间已有签约 (the term overlaps another contract of the resident)",
            field="start_date",
        )


def offer_check(*, pending_with_team: bool) -> None:
    if pending_with_team:
        raise Conflict(
            "pending_contract_exists",
            "该居民与此团队已有待签署的签约 (a contract with this team awaits signature)",
            field="resident",
        )


# --- consent ------------------------------------------------------------------------------------


def needs_guardian(*, birth_date: dt.date, on: dt.date, incapacitated: bool = False) -> bool:
    """A minor (under 18 on the signing day) or an incapacitated resident is signed for."""
    return age_on(birth_date, on) < ADULT_AGE or incapacitated


def signatory_of_method(method: str) -> str:
    """Who signed, where only the method is known (imported contracts)."""
    return Signatory.GUARDIAN if method == SignatureMethod.GUARDIAN else Signatory.RESIDENT


def signatory_check(*, signed_by: str, method: str, guardian_needed: bool) -> str:
    """Who signs and how must agree; returns the method as recorded (a guardian signing in
    person signs as guardian)."""
    if signed_by not in Signatory.values:
        raise InvalidInput(
            "signed_by_invalid",
            "签署人应为居民本人或监护人 (resident or guardian)",
            field="signed_by",
        )
    if method not in SignatureMethod.values:
        raise InvalidInput(
            "signature_method_invalid",
            f"未知的签署方式: {method} (unknown signature method)",
            field="method",
        )
    if guardian_needed and signed_by != Signatory.GUARDIAN:
        raise InvalidInput(
            "guardian_required",
            "未成年人或无民事行为能力的居民须由监护人签署 (a guardian must sign for a minor or an "
            "incapacitated resident)",
            field="signed_by",
        )
    if signed_by == Signatory.RESIDENT and method == SignatureMethod.GUARDIAN:
        raise InvalidInput(
            "signature_method_mismatch",
            "居民本人签署不能选择监护人代签 (a resident cannot sign as guardian)",
            field="method",
        )
    if signed_by == Signatory.GUARDIAN and method == SignatureMethod.IN_PERSON:
        return SignatureMethod.GUARDIAN
    return method


def guardian_details_check(*, name: str, relationship: str, national_id: str) -> None:
    for field, value in (
        ("guardian_name", name),
        ("guardian_relationship", relationship),
        ("guardian_national_id", national_id),
    ):
        if not value.strip():
            raise InvalidInput(
                "guardian_details_required",
                "监护人签署须填写姓名、关系和身份证号码 (guardian name, relation and ID required)",
                field=field,
            )


def guardian_check(
    *, guardian_birth_date: dt.date, on: dt.date, guardian_id_hash: str, resident_id_hash: str
) -> None:
    """The guardian is an adult and not the resident (compared by the keyed ID hashes)."""
    if age_on(guardian_birth_date, on) < ADULT_AGE:
        raise InvalidInput(
            "guardian_not_adult",
            "监护人须年满18岁 (the guardian must be an adult)",
            field="guardian_national_id",
        )
    if guardian_id_hash == resident_id_hash:
        raise InvalidInput(
            "guardian_is_resident",
            "监护人不能是居民本人 (the guardian cannot be the resident)",
            field="guardian_national_id",
        )


# --- follow-ups ---------------------------------------------------------------------------------


def followup_on_time(*, due_date: dt.date, done_on: dt.date) -> bool:
    """履约: done no later than 14 days after the due date (earlier counts too)."""
    return done_on <= due_date + dt.timedelta(days=FOLLOWUP_ON_TIME_DAYS)


def followup_record_check(
    *,
    followup_status: str,
    contract_status: str,
    contract_start: dt.date,
    done_on: dt.date,
) -> None:
    """A pending follow-up of a contract holding a place, done on or after the term's start."""
    if followup_status != FollowUpStatus.PENDING:
        raise Conflict("follow_up_not_pending", "该随访已完成或已取消 (already done or cancelled)")
    if not holds_place(contract_status):
        raise Conflict("contract_not_active", "签约不在履约期 (the contract is not active)")
    if done_on < contract_start:
        raise InvalidInput(
            "done_at_invalid",
            "完成时间早于签约起始日期 (before the contract start)",
            field="done_at",
        )
