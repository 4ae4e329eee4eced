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
