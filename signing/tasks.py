"""Periodic jobs of family-doctor signing (Celery beat, config/settings.py). Each is idempotent:
a second run on the same day finds nothing left to move and sends nothing new (dedupe keys)."""

from celery import shared_task

from signing import services


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def contracts_mark_renewal_due() -> int:
    return services.contracts_mark_renewal_due()


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def contracts_expire() -> int:
    return services.contracts_expire()


@shared_task(acks_late=True, time_limit=900, soft_time_limit=840)
def followup_reminders_send() -> int:
    return services.followup_reminders_send()
