"""Schemathesis over the API's own OpenAPI document (issue 9 item 14), in-process through the
WSGI app, once with a staff token and once with a resident token. Every check of schemathesis
runs: no server error, no status code the document does not declare, every answer (errors
included) in its declared schema and content type, schema-invalid requests refused.

"Schema-valid requests accepted" is checked as what the document can promise: a request the
document calls valid is never refused by the server's own schema (400 `malformed_request`, 422
`validation_error`). A domain rule no schema can say (an ID number's check digit, a district
that is not loaded, a record that does not exist) answers its own declared 4xx code, so
schemathesis' `positive_data_acceptance`, which would call those rejections, is replaced by
that check.

Bounded for CI: MAX_EXAMPLES per operation, about two minutes on two cores."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from config.api import api
from config.wsgi import application
from healthnet import services
from tests.portal.scenario import build_clinic

MAX_EXAMPLES = 6

schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/v1/"))
schema.app = application
# Deterministic: CI sees the same requests every run (no flaky merges), none kept between runs.
schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, database="none")


def refused_by_the_servers_schema(ctx, response, case):
    """A request generated as schema-valid must get past the server's own validation."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code not in (400, 422):
        return None
    if response.status_code == 400 or response.json()["code"] == "validation_error":
        raise AssertionError(
            f"a schema-valid request was refused by the server's schema: {response.text[:600]}"
        )
    return None


@pytest.fixture
def tokens(db):
    clinic = build_clinic()
    issued = {}
    for role in ("doctor", "resident"):
        issued[role], _ = services.api_token_issue_for(user=clinic.users[role], name="fuzz")
    # The WSGI app is called directly, not through Django's test client: keep the test's
    # connection (and its transaction) open across requests, as that client does.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield issued
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.parametrize("role", ["doctor", "resident"])
@schema.parametrize()
@hypothesis_settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_document(case, role, tokens):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {tokens[role]}"},
        excluded_checks=[positive_data_acceptance],
        additional_checks=[refused_by_the_servers_schema],
    )
