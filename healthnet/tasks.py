"""Celery tasks of the network app: thin and idempotent, they call healthnet.outbox."""

from celery import shared_task

from healthnet import outbox


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def outbox_deliver_task(message_id: int) -> bool:
    return outbox.outbox_deliver(message_id)


@shared_task(soft_time_limit=240, time_limit=300)
def outbox_sweep() -> int:
    return outbox.outbox_sweep()


@shared_task(soft_time_limit=240, time_limit=300)
def outbox_purge() -> int:
    return outbox.outbox_purge()
