"""Every periodic job named in the beat schedule is a registered Celery task (a typo there would
only show in production, as a job that silently never runs)."""

from __future__ import annotations

from django.conf import settings

from config.celery import app


def test_every_scheduled_task_is_registered():
    app.loader.import_default_modules()
    registered = set(app.tasks)

    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in registered, name
        assert entry["schedule"] > 0
