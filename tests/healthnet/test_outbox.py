"""The outbox: written with the change, relayed after commit, swept after a broker outage, and
delivered once however often the relay runs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from healthnet.models import OutboxMessage, OutboxStatus
from healthnet.outbox import outbox_deliver, outbox_enqueue, outbox_sweep
from tests.factories import ResidentFactory

pytestmark = pytest.mark.django_db(transaction=True)

SENT: list[dict] = []


class RecordingChannel:
    """Stands in for the outside world (an SMS gateway): records what it was asked to send."""

    def send(self, *, message_id, recipient, subject, body):
        SENT.append({"id": message_id, "recipient": recipient, "body": body})


class BrokenChannel:
    def send(self, **kwargs):
        raise ConnectionError("gateway down")


@pytest.fixture(autouse=True)
def recording_channel(settings):
    SENT.clear()
    settings.NOTIFICATION_CHANNELS = {
        **settings.NOTIFICATION_CHANNELS,
        "test": f"{__name__}.RecordingChannel",
        "broken": f"{__name__}.BrokenChannel",
    }
    yield
    SENT.clear()


def test_message_is_relayed_once_the_transaction_commits():
    with transaction.atomic():
        outbox_enqueue(channel="test", recipient="13800000000", body="您的转诊已接收")
        assert SENT == []  # nothing leaves before the commit

    assert [m["body"] for m in SENT] == ["您的转诊已接收"]
    assert OutboxMessage.objects.get().status == OutboxStatus.SENT


def test_a_rolled_back_change_sends_nothing():
    def change_that_fails():
        with transaction.atomic():
            ResidentFactory()
            outbox_enqueue(channel="test", recipient="x", body="never")
            raise RuntimeError("the change fails")

    with pytest.raises(RuntimeError):
        change_that_fails()

    assert SENT == []
    assert OutboxMessage.objects.count() == 0


def test_broker_outage_delays_the_message_and_the_sweep_delivers_it(broker_down):
    with transaction.atomic():
        resident = ResidentFactory()
        outbox_enqueue(channel="test", recipient="13800000000", body=f"welcome {resident.pk}")

    # The change committed; the publish failed quietly; the message waits.
    message = OutboxMessage.objects.get()
    assert message.status == OutboxStatus.PENDING
    assert SENT == []

    # The sweep delivers it (beat runs it every minute, here in-process).
    later = timezone.now() + dt.timedelta(minutes=2)
    assert outbox_sweep(now=later) == 1
    assert outbox_sweep(now=later) == 0

    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert len(SENT) == 1


def test_delivery_runs_twice_sends_once():
    with transaction.atomic():
        message = outbox_enqueue(channel="test", recipient="a", body="once")
    SENT.clear()
    OutboxMessage.objects.filter(pk=message.pk).update(status=OutboxStatus.PENDING, sent_at=None)

    assert outbox_deliver(message.pk) is True
    assert outbox_deliver(message.pk) is False
    assert len(SENT) == 1


def test_dedupe_key_makes_enqueue_idempotent():
    with transaction.atomic():
        first = outbox_enqueue(channel="test", recipient="a", body="remind", dedupe_key="k1")
    with transaction.atomic():
        second = outbox_enqueue(channel="test", recipient="a", body="remind", dedupe_key="k1")

    assert first is not None
    assert second is None
    assert OutboxMessage.objects.count() == 1
    assert len(SENT) == 1


def test_a_failing_channel_backs_off_then_gives_up(settings):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    with transaction.atomic():
        message = outbox_enqueue(channel="broken", recipient="a", body="x")

    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING
    assert message.attempts == 1
    assert "gateway down" in message.last_error
    assert message.next_attempt_at > timezone.now()

    assert outbox_sweep(now=timezone.now()) == 0  # not due yet: backing off
    outbox_sweep(now=message.next_attempt_at + dt.timedelta(seconds=1))
    message.refresh_from_db()
    assert message.status == OutboxStatus.FAILED
    assert message.attempts == 2


def test_unknown_channel_is_refused_before_anything_is_written():
    with pytest.raises(ValueError, match="unknown notification channel"), transaction.atomic():
        outbox_enqueue(channel="pigeon", recipient="a", body="x")
    assert OutboxMessage.objects.count() == 0


# --- circuit breaker: a dead broker costs one failed publish, not one per message --------------


def publish_failures(caplog) -> int:
    return sum("could not publish" in r.getMessage() for r in caplog.records)


def test_after_a_failed_publish_the_next_messages_wait_for_the_sweep_without_trying(
    broker_down, caplog, settings
):
    settings.OUTBOX_PUBLISH_PAUSE_SECONDS = 30
    caplog.set_level("INFO", logger="healthnet.outbox")
    for n in range(3):
        with transaction.atomic():
            outbox_enqueue(channel="test", recipient="13800000000", body=f"message {n}")

    assert publish_failures(caplog) == 1  # the first message tried the broker; the others did not
    assert sum("paused after a broker failure" in r.getMessage() for r in caplog.records) == 2
    assert OutboxMessage.objects.filter(status=OutboxStatus.PENDING).count() == 3

    assert outbox_sweep(now=timezone.now() + dt.timedelta(minutes=2)) == 3
    assert len(SENT) == 3


def test_without_a_pause_every_message_tries_the_broker(broker_down, caplog, settings):
    settings.OUTBOX_PUBLISH_PAUSE_SECONDS = 0
    caplog.set_level("INFO", logger="healthnet.outbox")
    for n in range(3):
        with transaction.atomic():
            outbox_enqueue(channel="test", recipient="a", body=f"message {n}")

    assert publish_failures(caplog) == 3


def test_after_the_pause_the_broker_is_tried_again(broker_down, caplog, settings):
    import time

    settings.OUTBOX_PUBLISH_PAUSE_SECONDS = 1
    caplog.set_level("INFO", logger="healthnet.outbox")
    with transaction.atomic():
        outbox_enqueue(channel="test", recipient="a", body="first")
    time.sleep(1.1)
    with transaction.atomic():
        outbox_enqueue(channel="test", recipient="a", body="second")

    assert publish_failures(caplog) == 2


# --- retention: recipients and texts do not stay for ever --------------------------------------


def aged(status, *, days: float, recipient="13812345678", body="您的随访已到期"):
    with transaction.atomic():
        message = outbox_enqueue(channel="test", recipient=recipient, body=body, subject="随访")
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=status, created_at=NOW - dt.timedelta(days=days)
    )
    return message.pk


NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
SECOND = 1 / 86_400


def test_messages_done_with_are_blanked_after_the_retention_period(settings):
    from healthnet.outbox import outbox_purge

    settings.OUTBOX_RETENTION_DAYS = 30
    old_sent = aged(OutboxStatus.SENT, days=30 + SECOND)
    old_failed = aged(OutboxStatus.FAILED, days=45)
    young_sent = aged(OutboxStatus.SENT, days=30 - SECOND)
    old_pending = aged(OutboxStatus.PENDING, days=60)

    assert outbox_purge(now=NOW) == 2
    assert outbox_purge(now=NOW) == 0  # idempotent

    blanked = OutboxMessage.objects.filter(pk__in=[old_sent, old_failed])
    assert list(blanked.values_list("recipient", "subject", "body")) == [("", "", "")] * 2
    assert list(blanked.values_list("status", flat=True).order_by("pk")) == ["sent", "failed"]
    kept = OutboxMessage.objects.filter(pk__in=[young_sent, old_pending]).order_by("pk")
    assert list(kept.values_list("recipient", flat=True)) == ["13812345678", "13812345678"]


def test_the_purge_runs_daily_in_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["outbox-purge"]

    assert entry["task"] == "healthnet.tasks.outbox_purge"
    assert entry["schedule"] == 24 * 3600.0


# --- phone numbers in the log ------------------------------------------------------------------


def test_the_sms_stand_in_logs_the_number_masked(settings, caplog):
    settings.SMS_GATEWAY = "healthnet.channels.LoggingSmsGateway"
    caplog.set_level("INFO", logger="healthnet.notifications")
    with transaction.atomic():
        outbox_enqueue(channel="sms", recipient="13812345678", body="请于明日随访")

    lines = [r.getMessage() for r in caplog.records if r.name == "healthnet.notifications"]
    assert len(lines) == 1
    assert "138****5678" in lines[0]
    assert "13812345678" not in caplog.text


def test_the_log_channel_masks_phone_numbers_and_addresses(caplog):
    caplog.set_level("INFO", logger="healthnet.notifications")
    with transaction.atomic():
        outbox_enqueue(channel="log", recipient="+86 138-1234-5678", body="x")
        outbox_enqueue(channel="log", recipient="zhang.wei@example.cn", body="y")

    assert "138****5678" in caplog.text
    assert "z***@example.cn" in caplog.text
    assert "138-1234-5678" not in caplog.text
    assert "1234-5678" not in caplog.text
    assert "zhang.wei" not in caplog.text


@pytest.mark.parametrize(
    ("recipient", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138 1234 5678", "138****5678"),
        ("0473-1234567", "047****4567"),
        ("1234567", "*******"),
        ("dr.li@example.cn", "d***@example.cn"),
        ("wechat-openid-xyz", "we***"),
        ("", ""),
    ],
)
def test_recipient_masked(recipient, masked):
    from healthnet.channels import recipient_masked

    assert recipient_masked(recipient) == masked


def test_with_sms_disabled_a_message_fails_visibly(settings):
    settings.SMS_GATEWAY = "healthnet.channels.DisabledSmsGateway"
    settings.OUTBOX_MAX_ATTEMPTS = 1
    with transaction.atomic():
        message = outbox_enqueue(channel="sms", recipient="13812345678", body="x")

    message.refresh_from_db()
    assert message.status == OutboxStatus.FAILED
    assert "SMS is disabled" in message.last_error
