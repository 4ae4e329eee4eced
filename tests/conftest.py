"""Test-wide fixtures. Celery runs eagerly (a task runs in-process when published) unless a test
says otherwise; each test starts with an empty cache (login throttling, replay sets)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from healthnet.models import UserRole
from tests.factories import InstitutionFactory, UserFactory


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Creating the test database runs `migrate`, which publishes a first health-code signing
    key as a fresh install does (healthcodes.keys.keys_publish_after_migrate). Tests start from
    an empty key table and make the keys they need at the instants they choose."""
    from healthcodes.models import HealthCodeKey
    from healthnet.models import AuditEvent

    with django_db_blocker.unblock():
        HealthCodeKey.objects.all().delete()
        AuditEvent.objects.filter(object_type="healthcode_key").delete()


@pytest.fixture(autouse=True)
def _eager_celery_and_clean_cache(settings):
    from config.celery import app
    from healthnet.outbox import publish_breaker

    publish_breaker.succeeded()  # a broker outage in one test does not pause the next one
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # Password hashing at production strength costs ~0.3 s a user; tests need no strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    app.conf.task_always_eager = True
    cache.clear()
    yield
    app.conf.task_always_eager = False
    cache.clear()


@pytest.fixture(autouse=True)
def _import_files_in_tmp(settings, tmp_path_factory):
    """Import jobs keep their uploads and error reports in the `imports` storage: a temporary
    folder per test, not var/imports."""
    settings.STORAGES = {
        **settings.STORAGES,
        "imports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path_factory.mktemp("imports"))},
        },
    }


def pytest_collection_modifyitems(config, items):
    from django.db import connection

    if connection.vendor != "postgresql":
        skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


DEAD_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens on port 9: connection refused


@pytest.fixture
def broker_down(settings, monkeypatch):
    """Celery pointed at a broker that refuses connections, as during an outage. Celery reads
    CELERY_BROKER_URL from the environment before its own config, so both are changed."""
    from config.celery import app

    original = app.conf.broker_url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    monkeypatch.setenv("CELERY_BROKER_URL", DEAD_BROKER_URL)
    app.conf.broker_url = DEAD_BROKER_URL
    app._pool = None  # drop pooled connections to the real broker
    app.amqp._producer_pool = None
    assert app.connection_for_write().port == 9
    yield
    monkeypatch.delenv("CELERY_BROKER_URL")
    app.conf.broker_url = original
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.task_always_eager = True


class ApiClient:
    """A test client that speaks JSON to /api/v1 with a bearer token."""

    def __init__(self, user=None, token: str | None = None):
        self.client = Client()
        self.user = user
        self.token = token

    def _headers(self, headers):
        merged = dict(headers or {})
        if self.token:
            merged.setdefault("Authorization", f"Bearer {self.token}")
        return merged

    def get(self, path, data=None, headers=None):
        return self.client.get(path, data, headers=self._headers(headers))

    def post(self, path, json=None, *, raw: str | None = None, headers=None):
        import json as json_module

        body = raw if raw is not None else json_module.dumps(json if json is not None else {})
        return self.client.post(
            path, body, content_type="application/json", headers=self._headers(headers)
        )

    def delete(self, path, headers=None):
        return self.client.delete(path, headers=self._headers(headers))


def api_client_for(user) -> ApiClient:
    from django.conf import settings

    from healthnet.services import api_token_issue

    token, _ = api_token_issue(username=user.username, password=settings.DEMO_PASSWORD)
    return ApiClient(user=user, token=token)


@pytest.fixture
def make_api_client(db):
    return api_client_for


@pytest.fixture
def institution(db):
    return InstitutionFactory(code="wh-p-test", name="测试社区卫生服务中心")


@pytest.fixture
def clerk(institution):
    return UserFactory(username="clerk", role=UserRole.CLERK, institution=institution)


@pytest.fixture
def clerk_api(clerk):
    return api_client_for(clerk)
