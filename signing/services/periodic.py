"""The periodic jobs (Celery beat), each idempotent: renewal due, expiry, reminders."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from healthnet.services import audit_record
from signing.models import (
    ACTIVE_STATUSES,
    RENEWAL_GRACE_DAYS,
    RENEWAL_NOTICE_DAYS,
    Contract,
    ContractStatus,
    FollowUp,
    FollowUpStatus,
)
from signing.selectors import overdue_counts_by_team
from signing.services.common import notify_resident, notify_team

# --- periodic jobs (idempotent) -----------------------------------------------------------------

BATCH = 500


def contracts_mark_renewal_due(*, today: dt.date | None = None) -> int:
    """active → renewal_due 30 days before the end; remind the resident and the team once."""
    today = today or timezone.localdate()
    due = Contract.objects.filter(
        status=ContractStatus.ACTIVE, end_date__lte=today + dt.timedelta(days=RENEWAL_NOTICE_DAYS)
    )
    ids = list(due.order_by("pk").values_list("pk", flat=True))
    moved = 0
    for start in range(0, len(ids), BATCH):
        with transaction.atomic():
            batch = (
                Contract.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("resident", "team")
                .filter(pk__in=ids[start : start + BATCH], status=ContractStatus.ACTIVE)
            )
            for contract in batch:
                contract.status = ContractStatus.RENEWAL_DUE
                contract.save(update_fields=["status", "updated_at"])
                audit_record(
                    actor=None,
                    action="contract_renewal_due",
                    object_type="contract",
                    object_id=contract.public_id,
                    details={"end_date": contract.end_date.isoformat()},
                )
                notify_resident(
                    contract.resident,
                    f"【乌海健康】您的家庭医生签约将于 {contract.end_date} 到期，"
                    f"请联系{contract.team.name}续约。",
                    dedupe_key=f"signing:renewal-due:{contract.public_id}",
                )
                moved += 1
    return moved


def contracts_expire(*, today: dt.date | None = None) -> int:
    """renewal_due → expired after the 30-day grace (open follow-ups stay: they were missed)."""
    today = today or timezone.localdate()
    cutoff = today - dt.timedelta(days=RENEWAL_GRACE_DAYS)
    ids = list(
        Contract.objects.filter(status=ContractStatus.RENEWAL_DUE, end_date__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    expired = 0
    for start in range(0, len(ids), BATCH):
        with transaction.atomic():
            batch = (
                Contract.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("resident", "team")
                .filter(pk__in=ids[start : start + BATCH], status=ContractStatus.RENEWAL_DUE)
            )
            for contract in batch:
                contract.status = ContractStatus.EXPIRED
                contract.save(update_fields=["status", "updated_at"])
                audit_record(
                    actor=None,
                    action="contract_expire",
                    object_type="contract",
                    object_id=contract.public_id,
                )
                notify_resident(
                    contract.resident,
                    f"【乌海健康】您与{contract.team.name}的家庭医生签约已到期，欢迎随时重新签约。",
                    dedupe_key=f"signing:expired:{contract.public_id}",
                )
                expired += 1
    return expired


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
