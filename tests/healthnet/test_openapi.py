"""The API documents itself: /api/v1/docs renders from local assets and the schema is valid."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_docs_page_uses_bundled_assets_not_a_cdn():
    response = Client().get("/api/v1/docs")

    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn.jsdelivr.net" not in page


def test_openapi_schema_lists_the_foundation_endpoints():
    schema = Client().get("/api/v1/openapi.json").json()

    paths = set(schema["paths"])
    for expected in (
        "/api/v1/auth/token",
        "/api/v1/institutions",
        "/api/v1/institutions/{code}",
        "/api/v1/alliances",
        "/api/v1/residents",
        "/api/v1/residents/lookup",
    ):
        assert expected in paths
    assert "BearerTokenAuth" in schema["components"]["securitySchemes"]
