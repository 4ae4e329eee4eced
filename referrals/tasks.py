"""Celery tasks of referrals: thin and idempotent; the work is in referrals/escalation.py."""

from celery import shared_task

from referrals import escalation


@shared_task(time_limit=600, soft_time_limit=540)
def referrals_escalate_overdue() -> int:
    return escalation.referrals_escalate_overdue()


@shared_task(time_limit=600, soft_time_limit=540)
def referrals_auto_close() -> int:
    return escalation.referrals_auto_close()
