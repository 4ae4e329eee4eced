"""The periodic jobs (Celery beat), each idempotent: renewal due and expiry move contracts by the
system transitions of the lifecycle table; follow-up reminders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from healthnet.services import audit_record
from signing import rules
from signing.lifecycle import CONTRACT_LIFECYCLE, Action
from signing.models import ACTIVE_STATUSES, Contract, FollowUp, FollowUpStatus
from signing.selectors import overdue_counts_by_team
from signing.services.common import move, notify_resident, notify_team

# --- periodic jobs (idempotent) -----------------------------------------------------------------

BATCH = 500


def _system_move(
    action: str,
    due: Q,
    *,
    audit_action: str,
    notice: Callable[[Contract], tuple[str, str]],
) -> int:
    """Move every contract matching `due` by the table's system transition `action`, in batches
    (rows locked, skipping those a user holds; they are met on the next run), each with its
    audit event and one notice to the resident (text, dedupe key). Idempotent."""
    sources = CONTRACT_LIFECYCLE.sources_of(action)
    ids = list(
        Contract.objects.filter(due, status__in=sources).order_by("pk").values_list("pk", flat=True)
    )
    moved = 0
    for start in range(0, len(ids), BATCH):
        with transaction.atomic():
            batch = (
                Contract.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("resident", "team")
                .filter(pk__in=ids[start : start + BATCH], status__in=sources)
            )
            for contract in batch:
                move(contract, action, actor=None)
                contract.save(update_fields=["status", "updated_at"])
                audit_record(
                    actor=None,
                    action=audit_action,
                    object_type="contract",
                    object_id=contract.public_id,
                    details={"end_date": contract.end_date.isoformat()},
                )
                body, dedupe_key = notice(contract)
                notify_resident(contract.resident, body, dedupe_key=dedupe_key)
                moved += 1
    return moved


def contracts_mark_renewal_due(*, today: dt.date | None = None) -> int:
    """active → renewal_due 30 days before the end; remind the resident and the team once."""
    today = today or timezone.localdate()
    return _system_move(
        Action.MARK_RENEWAL_DUE,
        Q(end_date__lte=rules.renewal_due_from(today)),
        audit_action="contract_renewal_due",
        notice=lambda contract: (
            f"【乌海健康】您的家庭医生签约将于 {contract.end_date} 到期，"
            f"请联系{contract.team.name}续约。",
            f"signing:renewal-due:{contract.public_id}",
        ),
    )


def contracts_expire(*, today: dt.date | None = None) -> int:
    """renewal_due → expired after the 30-day grace (open follow-ups stay: they were missed)."""
    today = today or timezone.localdate()
    return _system_move(
        Action.EXPIRE,
        Q(end_date__lt=rules.expired_before(today)),
        audit_action="contract_expire",
        notice=lambda contract: (
            f"【乌海健康】您与{contract.team.name}的家庭医生签约已到期，欢迎随时重新签约。",
            f"signing:expired:{contract.public_id}",
        ),
    )


def followup_reminders_send(*, today: dt.date | None = None, ahead_days: int = 7) -> int:
    """Remind each resident once per follow-up due within `ahead_days`, and each team once a day
    of its overdue follow-ups. Dedupe keys make a second run send nothing new."""
    today = today or timezone.localdate()
    sent = 0
    upcoming = (
        FollowUp.objects.filter(
            status=FollowUpStatus.PENDING,
            due_date__gte=today,
            due_date__lte=today + dt.timedelta(days=ahead_days),
            contract__status__in=ACTIVE_STATUSES,
        )
        .select_related("item", "contract__resident", "contract__team")
        .order_by("pk")
    )
    with transaction.atomic():
        for followup in upcoming.iterator(chunk_size=1000):
            contract = followup.contract
            sent += notify_resident(
                contract.resident,
                f"【乌海健康】{contract.team.name}提醒：您的“{followup.item.name}”将于 "
                f"{followup.due_date} 前后进行。",
                dedupe_key=f"signing:followup-due:{followup.public_id}",
            )
        for team, count in overdue_counts_by_team(today=today):
            sent += notify_team(
                team,
                "逾期随访提醒 (overdue follow-ups)",
                f"{team.name} 有 {count} 项随访已逾期。",
                dedupe_key=f"signing:overdue:{team.code}:{today.isoformat()}",
            )
    return sent
