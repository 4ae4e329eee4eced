"""Periodic jobs of family-doctor signing (Celery beat, config/settings.py). Each is idempotent:
a second run on the same day finds nothing left to move and sends nothing new (dedupe keys)."""

from celery import shared_task

from signing import services
from signing.importer.limits import limit


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def contracts_mark_renewal_due() -> int:
    return services.contracts_mark_renewal_due()


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def contracts_expire() -> int:
    return services.contracts_expire()


@shared_task(acks_late=True, time_limit=900, soft_time_limit=840)
def followup_reminders_send() -> int:
    return services.followup_reminders_send()


# Import jobs (signing.services.imports): the soft limit stops an import between rows (what is
# written stays), the hard one kills a worker that did not stop. Redelivered after a lost worker
# (acks_late), a job still marked running is left to the sweep, which restarts it once its
# heartbeat is older than the hard limit.
@shared_task(
    acks_late=True,
    soft_time_limit=limit("SIGNING_IMPORT_TASK_SOFT_TIME_LIMIT"),
    time_limit=limit("SIGNING_IMPORT_TASK_TIME_LIMIT"),
)
def contract_import_run(job_id: int) -> str:
    return services.import_job_run(job_id=job_id)


@shared_task(acks_late=True, soft_time_limit=240, time_limit=300)
def contract_import_jobs_sweep() -> int:
    return services.import_jobs_sweep()
