"""A contract's dated status timeline (signing.models.ContractEvent, docs/design.md §5, §7).

Two halves:
- the reads the reports make (re-exported by signing.selectors, the app's one door): the status
  of a contract at the end of a day or at an instant, and which contracts held a place then;
- `events_from_dates`: the timeline a contract's own dates imply (offer, signing, renewal notice,
  expiry, end), pure on plain values, for the rows that are written without the services: the
  backfill of the contracts that existed before the timeline (migration signing 0005), the bulk
  import, and the demo data. Their periodic moves happen on the day the jobs would make them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from signing.lifecycle import ACTIVE_STATUSES, Action, ContractStatus

S = ContractStatus
# The days the periodic jobs move a contract (signing.rules.renewal_due_from / expired_before,
# read the other way round: the first day the job finds it due).
RENEWAL_NOTICE_DAYS = 30
RENEWAL_GRACE_DAYS = 30

# How a contract begins (ContractEvent.action with from_status ""): an offer awaiting signature,
# a successor signed at renewal or switch, a row of the bulk import, demo data, or the backfill.
OFFER = "offer"
RENEWAL_OF = "renewal_of"
SWITCH_OF = "switch_of"
IMPORT = "import"
DEMO = "demo"
BACKFILL = "backfill"


# --- reads -------------------------------------------------------------------------------------


def _bound(at: dt.date | dt.datetime) -> dict[str, dt.datetime]:
    """The events that count for `at`: a date means the end of that day in the local time zone
    (Asia/Shanghai), so every event before the next midnight; a datetime means that instant,
    events at it included."""
    if isinstance(at, dt.datetime):
        if timezone.is_naive(at):
            raise ValueError("contract timeline: pass an aware datetime")
        return {"at__lte": at}
    tz = timezone.get_default_timezone()
    return {"at__lt": dt.datetime.combine(at + dt.timedelta(days=1), dt.time.min, tzinfo=tz)}


def _status_subquery(at: dt.date | dt.datetime) -> Subquery:
    from signing.models import ContractEvent

    last = ContractEvent.objects.filter(contract=OuterRef("pk"), **_bound(at)).order_by(
        "-at", "-pk"
    )
    return Subquery(last.values("to_status")[:1])


def contract_statuses_on(at: dt.date | dt.datetime) -> QuerySet[Any]:
    """Every contract that existed by then, annotated `status_on`: its status at the end of the
    day `at` (a date) or at the instant `at` (an aware datetime), read from its timeline. A
    contract offered later is left out."""
    from signing.models import Contract

    return Contract.objects.annotate(status_on=_status_subquery(at)).filter(status_on__isnull=False)


def contracts_active_on(at: dt.date | dt.datetime) -> QuerySet[Any]:
    """The contracts that held a place (active or renewal due: the lifecycle table's
    `holds_place`) at the end of the day `at` (or at the instant `at`): 签约 coverage's numerator
    counts their residents. A contract in its renewal grace counts; one terminated, expired,
    renewed or switched before then does not (its successor does)."""
    from signing.models import Contract

    return Contract.objects.annotate(status_on=_status_subquery(at)).filter(
        status_on__in=ACTIVE_STATUSES
    )


def contract_status_on(contract: Any, at: dt.date | dt.datetime) -> str | None:
    """One contract's status at the end of the day `at` (or at the instant), None if it did not
    exist yet."""
    from signing.models import ContractEvent

    return (
        ContractEvent.objects.filter(contract=contract, **_bound(at))
        .order_by("-at", "-pk")
        .values_list("to_status", flat=True)
        .first()
    )


def contract_events_between(
    start: dt.datetime, end: dt.datetime, *, actions: tuple[str, ...] | None = None
) -> QuerySet[Any]:
    """The timeline events in [start, end) (optionally of these actions), with `contract_id`:
    e.g. the renewals (Action.RENEW) and expiries of a month."""
    from signing.models import ContractEvent

    qs = ContractEvent.objects.filter(at__gte=start, at__lt=end)
    if actions is not None:
        qs = qs.filter(action__in=actions)
    return qs


# --- the timeline a contract's dates imply -----------------------------------------------------


@dataclass(frozen=True)
class PlannedEvent:
    at: dt.datetime
    action: str
    from_status: str
    to_status: str
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_default_timezone())


def renewal_due_day(end: dt.date) -> dt.date:
    """The day the job moves an active contract ending on `end` to renewal due."""
    return end - dt.timedelta(days=RENEWAL_NOTICE_DAYS)


def expiry_day(end: dt.date) -> dt.date:
    """The day the job expires a renewal-due contract that ended on `end` (after the grace)."""
    return end + dt.timedelta(days=RENEWAL_GRACE_DAYS + 1)


def events_from_dates(
    *,
    status: str,
    start: dt.date,
    end: dt.date,
    created_at: dt.datetime,
    signed_at: dt.datetime | None,
    begins: str,
    begins_active: bool,
    ended_at: dt.datetime | None = None,
    terminated_reason: str = "",
) -> list[PlannedEvent]:
    """The events that bring a contract to `status` as its dates say, oldest first.

    begins: the action of the first event (OFFER, IMPORT, DEMO, BACKFILL, RENEWAL_OF, SWITCH_OF);
    begins_active: it began signed (a successor, an import or demo row: "" → active at the
    signing, else at the start's midnight), or as an offer ("" → pending at `created_at`, then
    `sign` at `signed_at` if it was signed).
    ended_at: when a final move was made (terminated_at; for renewed/switched the successor's
    signing). The renewal notice and the expiry fall on the jobs' days; no event is later than
    the final one and the timeline never goes back in time.
    """
    events: list[PlannedEvent] = []
    signed = signed_at or local_midnight(start)
    if begins_active:
        events.append(PlannedEvent(min(signed, created_at), begins, "", S.ACTIVE))
    else:
        events.append(PlannedEvent(min(created_at, signed), begins, "", S.PENDING_SIGNATURE))
        if status == S.PENDING_SIGNATURE or (status == S.TERMINATED and signed_at is None):
            if status == S.TERMINATED:
                events.append(
                    _final(events, S.TERMINATED, Action.TERMINATE, ended_at, terminated_reason)
                )
            return events
        events.append(
            PlannedEvent(max(signed, events[-1].at), Action.SIGN, events[-1].to_status, S.ACTIVE)
        )
    if status == S.ACTIVE:
        return events
    notice = local_midnight(renewal_due_day(end))
    final_at = ended_at if status in (S.TERMINATED, S.RENEWED, S.SWITCHED) else None
    reaches_notice = status != S.TERMINATED or (final_at is not None and final_at >= notice)
    if reaches_notice:
        at = max(events[-1].at, min(notice, final_at) if final_at is not None else notice)
        events.append(PlannedEvent(at, Action.MARK_RENEWAL_DUE, S.ACTIVE, S.RENEWAL_DUE))
    if status == S.RENEWAL_DUE:
        return events
    if status == S.EXPIRED:
        at = max(events[-1].at, local_midnight(expiry_day(end)))
        events.append(PlannedEvent(at, Action.EXPIRE, S.RENEWAL_DUE, S.EXPIRED))
        return events
    final_actions: dict[str, str] = {S.RENEWED: Action.RENEW, S.SWITCHED: Action.SWITCH}
    action = final_actions.get(status, Action.TERMINATE)
    events.append(_final(events, status, action, ended_at, terminated_reason))
    return events


def _final(
    events: list[PlannedEvent], status: str, action: str, at: dt.datetime | None, reason: str
) -> PlannedEvent:
    previous = events[-1]
    return PlannedEvent(
        max(at or previous.at, previous.at), action, previous.to_status, status, reason
    )
