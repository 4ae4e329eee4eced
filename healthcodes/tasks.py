"""Celery tasks of the health-code app: thin and idempotent."""

from celery import shared_task

from healthcodes import keys


@shared_task(soft_time_limit=100, time_limit=120)
def healthcode_keys_rotate_task() -> dict[str, list[str]]:
    """The daily rotation (CELERY_BEAT_SCHEDULE): publishes the next key a week ahead, promotes
    it on time, retires the old one. Running it again changes nothing."""
    return keys.healthcode_keys_rotate().as_dict()
