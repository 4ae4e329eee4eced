"""The real path, no eager mode: a message published to the configured broker (the filesystem
transport on the embedded default, Redis in production) is consumed by a real Celery worker."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import transaction

from config.celery import app as celery_app
from healthnet.models import OutboxMessage, OutboxStatus
from healthnet.outbox import outbox_enqueue


@pytest.fixture
def isolated_broker(settings, tmp_path, monkeypatch):
    """A broker of the configured kind that no other test or dev worker shares."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.task_always_eager = False
    queue = f"test-{tmp_path.name}"
    original_options = dict(celery_app.conf.broker_transport_options or {})
    celery_app.conf.task_default_queue = queue
    if celery_app.conf.broker_url.startswith("filesystem"):
        folder = tmp_path / "broker"
        folder.mkdir()
        celery_app.conf.broker_transport_options = {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(folder),
            "store_processed": False,
        }
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    yield queue
    celery_app.conf.task_default_queue = "celery"
    celery_app.conf.broker_transport_options = original_options
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    celery_app.conf.task_always_eager = True


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_an_outbox_message(isolated_broker):
    with start_worker(
        celery_app, pool="solo", concurrency=1, perform_ping_check=False, queues=[isolated_broker]
    ):
        with transaction.atomic():
            message = outbox_enqueue(channel="log", recipient="13800000000", body="您好")

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            message.refresh_from_db()
            if message.status == OutboxStatus.SENT:
                break
            time.sleep(0.1)

    assert message.status == OutboxStatus.SENT
    assert OutboxMessage.objects.get().attempts == 1
