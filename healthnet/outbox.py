"""The outbox (docs/design.md §10): side effects recorded in the transaction of the change, relayed
later.

- `outbox_enqueue` writes the message row inside the caller's transaction and, once that
  transaction commits, asks Celery to deliver it. If the broker is down the publish fails quietly
  (logged) and the row waits for the periodic sweep: a broker outage delays, it loses nothing.
- `outbox_deliver` locks the row, sends it through its channel and marks it sent in one
  transaction. A second relay of the same message finds it sent (or locked) and does nothing, so
  a message goes out once even if the relay runs twice.
- After a publish fails, this process stops publishing for OUTBOX_PUBLISH_PAUSE_SECONDS (a
  circuit breaker): with the broker down, each publish would otherwise add the connect timeout
  to the web request that caused it. The sweep delivers what waits meanwhile; the first publish
  after the pause tries the broker again.
- `outbox_purge` blanks the recipient and text of messages done with (sent or failed) once
  they are OUTBOX_RETENTION_DAYS old: phone numbers do not stay in the table for ever.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from healthnet.channels import channel_for
from healthnet.models import OutboxMessage, OutboxStatus

logger = logging.getLogger("healthnet.outbox")

# A pending message younger than this is left to its own on-commit relay by the sweep.
SWEEP_GRACE = dt.timedelta(seconds=30)


def outbox_enqueue(
    *, channel: str, recipient: str, body: str, subject: str = "", dedupe_key: str | None = None
) -> OutboxMessage | None:
    """Record a message to send once the current transaction commits.

    With a `dedupe_key` already used, nothing new is written and None is returned: periodic jobs
    use it to stay idempotent."""
    channel_for(channel)  # an unknown channel is a programming error: fail now, not at delivery
    try:
        with transaction.atomic():
            message = OutboxMessage.objects.create(
                channel=channel,
                recipient=recipient,
                subject=subject,
                body=body,
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        if dedupe_key and OutboxMessage.objects.filter(dedupe_key=dedupe_key).exists():
            return None
        raise
    transaction.on_commit(lambda: _publish(message.pk))
    return message


class PublishBreaker:
    """Per process: after a failed publish, publishing pauses; the first one after the pause
    probes the broker (success closes the breaker, failure opens it again)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paused_until = 0.0

    def allows(self) -> bool:
        with self._lock:
            return time.monotonic() >= self._paused_until

    def failed(self) -> None:
        with self._lock:
            self._paused_until = time.monotonic() + settings.OUTBOX_PUBLISH_PAUSE_SECONDS

    def succeeded(self) -> None:
        with self._lock:
            self._paused_until = 0.0


publish_breaker = PublishBreaker()


def _publish(message_id: int) -> None:
    from healthnet.tasks import outbox_deliver_task

    if not publish_breaker.allows():
        logger.info(
            "outbox: publishing paused after a broker failure; the sweep sends %s", message_id
        )
        return
    try:
        outbox_deliver_task.delay(message_id)
    except Exception:  # the broker is down or unreachable: the sweep will deliver it later
        publish_breaker.failed()
        logger.warning(
            "outbox: could not publish message %s; publishing paused for %s s, the sweep will "
            "deliver it",
            message_id,
            settings.OUTBOX_PUBLISH_PAUSE_SECONDS,
            exc_info=True,
        )
    else:
        publish_breaker.succeeded()


def outbox_deliver(message_id: int) -> bool:
    """Send one message if it is still pending. Returns True when this call sent it."""
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, status=OutboxStatus.PENDING)
            .first()
        )
        if message is None:  # already sent, failed for good, or being sent by another relay
            return False
        message.attempts += 1
        try:
            channel_for(message.channel).send(
                message_id=str(message.public_id),
                recipient=message.recipient,
                subject=message.subject,
                body=message.body,
            )
        except Exception as exc:
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
                message.status = OutboxStatus.FAILED
                logger.error("outbox: message %s failed for good: %s", message_id, exc)
            else:
                backoff = dt.timedelta(seconds=min(3600, 30 * 2 ** (message.attempts - 1)))
                message.next_attempt_at = timezone.now() + backoff
            message.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
            return False
        message.status = OutboxStatus.SENT
        message.sent_at = timezone.now()
        message.save(update_fields=["attempts", "status", "sent_at"])
        return True


def outbox_pending_ids(*, now: dt.datetime | None = None, limit: int = 500) -> list[int]:
    """Pending messages the sweep should deliver: past their grace period and retry time."""
    now = now or timezone.now()
    due = OutboxMessage.objects.filter(
        status=OutboxStatus.PENDING, created_at__lte=now - SWEEP_GRACE
    )
    due = due.exclude(next_attempt_at__gt=now)
    return list(due.order_by("created_at").values_list("pk", flat=True)[:limit])


def outbox_sweep(*, now: dt.datetime | None = None) -> int:
    """Deliver what was left behind (broker outage, crashed worker). Returns how many were sent."""
    return sum(outbox_deliver(message_id) for message_id in outbox_pending_ids(now=now))


def outbox_purge(*, now: dt.datetime | None = None) -> int:
    """Blank the recipient, subject and text of sent and failed messages older than
    OUTBOX_RETENTION_DAYS; the row stays (what was sent when, through which channel). Pending
    messages are never touched. Idempotent. Returns how many were blanked."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    return (
        OutboxMessage.objects.filter(
            status__in=[OutboxStatus.SENT, OutboxStatus.FAILED], created_at__lt=cutoff
        )
        .exclude(recipient="", subject="", body="")
        .update(recipient="", subject="", body="")
    )
