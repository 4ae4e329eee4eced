"""A fresh install publishes a signing key when `migrate` runs, before any code is signed, and
an empty key set is never served as cacheable."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from healthcodes import keys
from healthcodes.models import HealthCodeKey, KeyStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_key_caches():
    keys.invalidate_key_caches()
    yield
    keys.invalidate_key_caches()


def test_migrate_publishes_an_active_key_on_a_fresh_install():
    assert not HealthCodeKey.objects.exists()

    call_command("migrate", verbosity=0)

    key = HealthCodeKey.objects.get()
    assert key.status == KeyStatus.ACTIVE
    published = Client().get("/.well-known/healthcode-keys.json").json()["keys"]
    assert [jwk["kid"] for jwk in published] == [key.kid]


def test_migrating_again_changes_nothing():
    call_command("migrate", verbosity=0)
    rows = list(HealthCodeKey.objects.values_list("kid", "status", "not_before"))

    call_command("migrate", verbosity=0)

    assert list(HealthCodeKey.objects.values_list("kid", "status", "not_before")) == rows


def test_an_empty_key_set_is_not_cacheable():
    response = Client().get("/.well-known/healthcode-keys.json")

    assert response.json() == {"keys": []}
    assert response["Cache-Control"] == "no-store"


def test_a_published_key_set_is_cacheable_for_its_max_age(settings):
    settings.HEALTHCODE_KEYSET_MAX_AGE_SECONDS = 300
    keys.healthcode_keys_rotate()

    response = Client().get("/.well-known/healthcode-keys.json")

    assert len(response.json()["keys"]) == 1
    assert sorted(response["Cache-Control"].split(", ")) == ["max-age=300", "public"]
