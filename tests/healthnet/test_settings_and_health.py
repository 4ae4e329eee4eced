"""Production refuses unsafe settings; /healthz reports the database and the broker."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


def django_check(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for their live server in this worker's
    # environment; a production process never has it, so it does not leak into the child.
    harness_only = {"SECRET_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in harness_only}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


SAFE_PRODUCTION = {
    "HEALTHNET_ENV": "production",
    "SECRET_KEY": "k7#Qw9-zR2!vN4@pL6$tY8^mB1&xC3*hJ5(dF0)gS-aE7+uWo9Lp",
    "FIELD_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "ALLOWED_HOSTS": "healthnet.example.cn",
    "DEBUG": "false",
    "DATABASE_URL": "postgres://healthnet@db.example.cn:5432/healthnet",
    "CACHE_URL": "redis://redis.example.cn:6379/1",
    "CELERY_BROKER_URL": "redis://redis.example.cn:6379/0",
    "SMS_GATEWAY": "healthnet.channels.DisabledSmsGateway",
}


def test_production_starts_with_safe_settings():
    result = django_check(SAFE_PRODUCTION)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"DEBUG": "true"}, "DEBUG must be off"),
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "x" * 60}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "k7#Qw9-zR2!vN4@pL6$tY8^mB1&xC3*hJ5(dF0)gS-aE7+uW"}, "at least 50"),
        ({"FIELD_ENCRYPTION_KEY": ""}, "FIELD_ENCRYPTION_KEY must be set"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS must name the hosts served, not '*'"),
        ({"ALLOWED_HOSTS": "healthnet.example.cn,*"}, "not '*'"),
        ({"DATABASE_URL": ""}, "DATABASE_URL must point at PostgreSQL"),
        ({"DATABASE_URL": "sqlite:////srv/healthnet.sqlite3"}, "not the embedded SQLite"),
        ({"CACHE_URL": ""}, "CACHE_URL must point at Redis"),
        ({"CELERY_BROKER_URL": "filesystem://"}, "CELERY_BROKER_URL must point at Redis"),
        ({"SMS_GATEWAY": ""}, "SMS_GATEWAY must name the SMS provider's adapter"),
        ({"SMS_GATEWAY": "healthnet.channels.LoggingSmsGateway"}, "not the logging stand-in"),
    ],
)
def test_production_refuses_unsafe_settings(override, complaint):
    result = django_check({**SAFE_PRODUCTION, **override})

    assert result.returncode != 0
    assert "Refusing to start in production" in result.stderr
    assert complaint in result.stderr


@pytest.mark.parametrize("environment", ["production", "development"])
@pytest.mark.parametrize(
    ("key", "complaint"),
    [
        ("not base64 at all!", "FIELD_ENCRYPTION_KEY must be base64"),
        ("MDEyMzQ1Njc4OWFiY2RlZg==", "must decode to 32 bytes, not 16"),
    ],
)
def test_a_malformed_field_encryption_key_stops_the_start(environment, key, complaint):
    """Refused at startup, not at the first resident read (which would fail every one)."""
    result = django_check(
        {**SAFE_PRODUCTION, "HEALTHNET_ENV": environment, "FIELD_ENCRYPTION_KEY": key}
    )

    assert result.returncode != 0
    assert complaint in result.stderr


def test_the_old_token_lifetime_setting_is_refused_with_its_replacement_named():
    result = django_check({**SAFE_PRODUCTION, "API_TOKEN_LIFETIME_DAYS": "30"})

    assert result.returncode != 0
    assert "API_TOKEN_LIFETIME_SECONDS" in result.stderr


@pytest.mark.django_db
def test_healthz_reports_database_and_broker():
    response = Client().get("/healthz")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


@pytest.mark.django_db
def test_healthz_says_unavailable_when_the_broker_is_down(broker_down):
    response = Client().get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False
    assert response.json()["checks"]["database"]["ok"] is True


def test_default_language_is_chinese_with_english_beside(settings):
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert [code for code, _ in settings.LANGUAGES] == ["zh-hans", "en"]
    assert settings.TIME_ZONE == "Asia/Shanghai"


def run_under_production(code: str, overrides: dict[str, str] | None = None):
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for their live server in this worker's
    # environment; a production process never has it, so it does not leak into the child.
    harness_only = {"SECRET_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in harness_only}
    env.update({**SAFE_PRODUCTION, **(overrides or {})})
    return subprocess.run(  # noqa: S603 (the code is this test module's own)
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_leaves_only_the_hsts_warnings_explained_in_deploy_md():
    result = run_under_production(
        "import django; django.setup(); from django.core.management import call_command; "
        "call_command('check', deploy=True)"
    )
    warnings = set(re.findall(r"\(([a-z_]+\.[WE]\d{3})\)", result.stdout + result.stderr))

    assert warnings == {"security.W005", "security.W021"}, result.stdout + result.stderr
    deploy_notes = (ROOT / "docs" / "deploy.md").read_text()
    for warning in warnings:
        assert warning in deploy_notes


def test_production_redirects_to_https_except_the_load_balancer_probe():
    """Plain HTTP from the proxy (no X-Forwarded-Proto: https) is sent to HTTPS; /healthz is
    answered as it is (here 503: no database behind these settings), not redirected."""
    result = run_under_production(
        "import django; django.setup(); from django.test import Client; "
        "c = Client(headers={'host': 'healthnet.example.cn'}); "
        "print(c.get('/healthz').status_code, c.get('/api/v1/institutions').status_code, "
        "c.get('/api/v1/institutions', headers={'x-forwarded-proto': 'https'}).status_code)",
        {
            "DATABASE_URL": "postgres://healthnet@127.0.0.1:9/healthnet",
            "CELERY_BROKER_URL": "redis://127.0.0.1:9/0",
        },
    )

    assert result.stdout.split() == ["503", "301", "401"], result.stderr
