"""Portal pages carry a Content-Security-Policy that allows this site only and no inline script;
responses with personal data are never stored by a browser or proxy; the API documentation is
public only when a setting says so."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from healthnet.models import UserRole
from tests.conftest import api_client_for
from tests.factories import ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def doctor():
    return UserFactory(username="dr-csp")


@pytest.fixture
def signed_in(doctor):
    client = Client()
    client.force_login(doctor)
    return client


def csp_directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.parametrize("url", ["/accounts/login/", "/workbench/"])
def test_portal_pages_allow_only_this_site_and_no_inline_script(signed_in, url):
    client = signed_in if url == "/workbench/" else Client()

    response = client.get(url)

    assert response.status_code == 200
    directives = csp_directives(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert not any("unsafe" in value for values in directives.values() for value in values)


@pytest.mark.parametrize("url", ["/accounts/login/", "/workbench/"])
def test_portal_pages_have_no_inline_script_or_style_the_policy_would_block(signed_in, url):
    client = signed_in if url == "/workbench/" else Client()
    page = client.get(url).content.decode()

    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)  # every script is a file
    assert "<style" not in page
    assert not re.search(r"\sstyle=", page)
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers


def test_a_signed_in_page_carries_its_idle_limit_and_a_warning_to_extend_it(signed_in, settings):
    """portal.js warns two minutes before the idle limit and offers to continue (WCAG 2.2.1,
    where a meta refresh would take the page away unannounced), then shows the login page."""
    page = signed_in.get("/workbench/").content.decode()

    assert f'data-session-idle-seconds="{settings.SESSION_IDLE_SECONDS}"' in page
    assert 'data-session-keepalive-url="/accounts/keepalive/"' in page
    assert 'id="idle-warning"' in page
    assert 'http-equiv="refresh"' not in page


def test_the_keepalive_counts_as_activity_and_answers_401_once_the_session_ended(signed_in):
    assert signed_in.get("/accounts/keepalive/").status_code == 204
    signed_in.logout()
    assert signed_in.get("/accounts/keepalive/").status_code == 401


def test_json_answers_carry_no_content_security_policy(signed_in):
    assert "Content-Security-Policy" not in signed_in.get("/api/v1/auth/me")


# --- no-store ----------------------------------------------------------------------------------


def test_api_answers_with_personal_data_are_not_stored(institution):
    clerk = UserFactory(role=UserRole.CLERK, institution=institution)
    resident = ResidentFactory(registered_by=institution)

    response = api_client_for(clerk).get(f"/api/v1/residents/{resident.public_id}")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_api_errors_are_not_stored_either(db):
    assert Client().get("/api/v1/auth/me")["Cache-Control"] == "no-store"


def test_portal_pages_are_not_stored(signed_in):
    assert "no-store" in signed_in.get("/workbench/")["Cache-Control"]


def test_the_published_key_set_keeps_its_public_cache_lifetime(db):
    from healthcodes.keys import healthcode_keys_rotate

    healthcode_keys_rotate()

    response = Client().get("/.well-known/healthcode-keys.json")

    assert "public" in response["Cache-Control"]
    assert "no-store" not in response["Cache-Control"]


# --- API documentation -------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/docs", "/api/v1/openapi.json"])
def test_api_docs_are_public_when_the_setting_says_so(db, settings, url):
    settings.API_DOCS_PUBLIC = True

    assert Client().get(url).status_code == 200


@pytest.mark.parametrize("url", ["/api/v1/docs", "/api/v1/openapi.json"])
def test_api_docs_for_staff_only_send_strangers_to_the_login(db, settings, url):
    settings.API_DOCS_PUBLIC = False

    response = Client().get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("url", ["/api/v1/docs", "/api/v1/openapi.json"])
def test_api_docs_for_staff_only_open_to_signed_in_staff(signed_in, settings, url):
    settings.API_DOCS_PUBLIC = False

    assert signed_in.get(url).status_code == 200


def test_api_docs_for_staff_only_are_not_for_residents(db, settings):
    settings.API_DOCS_PUBLIC = False
    resident_user = UserFactory(
        role=UserRole.RESIDENT, institution=None, resident=ResidentFactory()
    )
    client = Client()
    client.force_login(resident_user)

    assert client.get("/api/v1/docs").status_code == 404


def test_api_docs_are_staff_only_by_default_in_production():
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.healthnet.test_settings_and_health import SAFE_PRODUCTION

    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    env.update(SAFE_PRODUCTION)
    env.pop("API_DOCS_PUBLIC", None)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.API_DOCS_PUBLIC)",
        ],
        cwd=Path(__file__).resolve().parents[2],
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.strip() == "False", result.stderr


def test_djangos_own_debug_pages_are_left_without_the_policy(db, settings):
    """With DEBUG on, Django's technical 404/500 pages style themselves inline; the policy would
    leave them unreadable to the developer."""
    settings.DEBUG = True

    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    assert "Content-Security-Policy" not in response
