"""Celery tasks of reports: thin and idempotent; the work is in reports/services/rollups.py."""

from celery import shared_task

from reports.services import rebuild_recent


@shared_task(time_limit=1800, soft_time_limit=1700)
def reports_rebuild_recent() -> int:
    """Rebuild the current and the previous month (and their quarters and years): the rows
    written."""
    return sum(result.rows for result in rebuild_recent())
