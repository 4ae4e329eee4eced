"""Hostile but well-formed requests get a clean 4xx in the API's one error format, never a 5xx
or an HTML page: unknown paths, ids that are not UUIDs, wrong methods, writes without a token,
pages past any end, oversized bodies, a Host not served, and errors outside any handler."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import path
from django.utils import timezone

from config.api import api
from config.urls import urlpatterns as project_urlpatterns
from healthnet.models import ApiToken, Resident, UserRole
from tests.conftest import ApiClient, api_client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TEN_MEGABYTES = 10 * 1024 * 1024


def assert_error_format(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert "(" in body["message"]  # Chinese first, English in brackets
    return body


# --- 401 rather than 403 on writes without credentials ------------------------------------------


def test_a_write_without_a_token_is_401_with_the_scheme_to_use(db):
    response = ApiClient().post("/api/v1/residents", {"name": "x"})

    assert_error_format(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="healthnet"'


def test_a_write_with_an_expired_token_is_401_invalid_token(clerk_api):
    ApiToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    response = clerk_api.post("/api/v1/residents", {"name": "x"})

    assert_error_format(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="healthnet", error="invalid_token"'


def test_a_session_write_without_its_csrf_token_is_403_csrf_failed(clerk):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk)

    response = client.post("/api/v1/residents", {}, content_type="application/json")

    assert_error_format(response, 403, "csrf_failed")


def test_a_session_write_with_its_csrf_token_passes_authentication(clerk):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk)
    client.get("/workbench/")  # a page with a form sets the CSRF cookie
    token = client.cookies["csrftoken"].value

    response = client.post(
        "/api/v1/residents", {}, content_type="application/json", headers={"X-CSRFToken": token}
    )

    assert_error_format(response, 422, "validation_error")


# --- routes and methods ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/api/v1/nothing-here", "/api/v1/residents/not-a-uuid", "/api/v1/referrals/12345", "/api/"],
)
def test_unknown_paths_and_non_uuid_ids_are_a_json_404(clerk_api, url):
    assert_error_format(clerk_api.get(url), 404, "not_found")


def test_a_wrong_method_is_a_json_405_that_names_the_allowed_ones(clerk_api):
    response = clerk_api.delete("/api/v1/institutions")

    assert_error_format(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET"


def test_a_host_not_served_is_a_json_400(db):
    response = Client(headers={"host": "evil.example"}).get("/api/v1/institutions")

    assert_error_format(response, 400, "bad_request")


def test_the_portal_keeps_its_html_pages(db):
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


# --- errors outside any handler ----------------------------------------------------------------


def crashing_view(request):
    raise RuntimeError("a bug")


def html_error_view(request):
    return HttpResponse("<h1>Bad Gateway</h1>", status=502)


urlpatterns = [
    path("api/v1/test-crash", crashing_view),
    path("api/v1/test-html-502", html_error_view),
    *project_urlpatterns,
]


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("debug", [False, True])
def test_an_unhandled_error_under_the_api_is_a_json_500_in_production_and_development(
    db, settings, debug
):
    settings.DEBUG = debug
    client = Client(raise_request_exception=False)

    response = client.get("/api/v1/test-crash", headers={"x-request-id": "req-12345678"})

    body = assert_error_format(response, 500, "server_error")
    assert body["details"] == {"request_id": "req-12345678"}
    assert "a bug" not in response.content.decode()


@pytest.mark.urls(__name__)
def test_any_other_html_error_under_the_api_is_rewritten(db):
    assert_error_format(Client().get("/api/v1/test-html-502"), 502, "service_unavailable")


# --- oversized bodies --------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True])
def test_a_ten_megabyte_body_is_a_json_413_before_any_parsing(db, settings, debug):
    settings.DEBUG = debug
    body = json.dumps({"username": "x", "password": "y", "name": "z" * TEN_MEGABYTES})

    response = ApiClient().post("/api/v1/auth/token", raw=body)

    details = assert_error_format(response, 413, "request_too_large")["details"]
    assert details["max_bytes"] == settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def test_a_ten_megabyte_body_to_an_authenticated_write_is_a_413_and_writes_nothing(clerk_api):
    body = json.dumps({"national_id": "1" * 18, "name": "z" * TEN_MEGABYTES})

    response = clerk_api.post("/api/v1/residents", raw=body)

    assert_error_format(response, 413, "request_too_large")
    assert Resident.objects.count() == 0


def test_a_body_that_is_not_json_stays_a_400_malformed_request(clerk_api):
    response = clerk_api.post("/api/v1/residents", raw="{not json")

    assert_error_format(response, 400, "malformed_request")


# --- pages past the end, on every list ----------------------------------------------------------

LIST_USER_ROLE = {
    "/api/v1/healthcodes/scans": UserRole.INSTITUTION_ADMIN,
    "/api/v1/contracts/import-jobs": UserRole.INSTITUTION_ADMIN,
}


def paginated_list_paths() -> list[str]:
    paths = []
    for url, operations in api.get_openapi_schema()["paths"].items():
        get = operations.get("get")
        if get and any(p["name"] == "page" for p in get.get("parameters", [])):
            paths.append(url)
    return paths


def test_every_list_is_covered():
    """The lists below are those the API declares today; a new one joins automatically."""
    assert len(paginated_list_paths()) >= 7


@pytest.mark.parametrize("url", paginated_list_paths())
@pytest.mark.parametrize("page", [10**6, 10**17, 2**63, 10**40])
def test_a_page_past_the_end_is_an_empty_page_on_every_list(institution, url, page):
    role = LIST_USER_ROLE.get(url, UserRole.DOCTOR)
    client = api_client_for(UserFactory(role=role, institution=institution))

    response = client.get(url, {"page": page})

    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert body["items"] == []
    assert body["page"] == page
    assert body["count"] >= 0


def test_a_page_past_the_end_keeps_the_count_and_the_number_of_pages(institution):
    client = api_client_for(UserFactory(role=UserRole.DOCTOR, institution=institution))

    body = client.get("/api/v1/institutions", {"page": 10**40, "page_size": 1}).json()

    assert body["count"] == 1
    assert body["pages"] == 1


def test_a_rewritten_error_keeps_the_cookies_of_the_original(clerk, settings):
    """An idle session is logged out on the way in; the 404 that follows still clears it."""
    client = Client()
    client.force_login(clerk)
    settings.SESSION_IDLE_SECONDS = -1  # every session is idle now

    response = client.get("/api/v1/nothing-here")

    assert_error_format(response, 404, "not_found")
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == ""
