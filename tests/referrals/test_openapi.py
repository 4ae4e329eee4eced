"""The OpenAPI document says what each referral action needs: one POST operation per action, each
with its own input schema (required fields required, coded values as enums), and nothing for the
system's own moves. The expectation is written by hand from docs/referrals.md, not read from
referrals.workflow."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PREFIX = "/api/v1/referrals/{referral_id}/"
REJECTION_REASONS = [
    "no_capacity",
    "not_indicated",
    "wrong_department",
    "incomplete_information",
    "patient_unstable",
    "other",
]

# action → None (no body) or (required fields, {field: (type, format or enum)} of every field)
EXPECTED = {
    "submit": None,
    "arrive": None,
    "no_show": None,
    "accept": ([], {"comment": ("string", None)}),
    "acknowledge": ([], {"comment": ("string", None)}),
    "reject": (
        ["comment", "reason_code"],
        {"reason_code": ("string", REJECTION_REASONS), "comment": ("string", None)},
    ),
    "redirect": (
        ["to_department"],
        {"to_department": ("string", "uuid"), "comment": ("string", None)},
    ),
    "schedule": (["date"], {"date": ("string", "date")}),
    "reschedule": (["date"], {"date": ("string", "date")}),
    "complete": (
        ["summary"],
        {
            "summary": ("string", None),
            "findings": ("string", None),
            "diagnosis": ("string", None),
            "recommendations": ("string", None),
            "return_to_primary_care": ("boolean", None),
            "resident_consent": ("boolean", None),
        },
    ),
    "cancel": (["reason"], {"reason": ("string", None)}),
}


@pytest.fixture
def schema():
    return Client().get("/api/v1/openapi.json").json()


def _resolve(schema, node):
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        node = schema["components"]["schemas"][name]
    return node


def _body_schema(schema, operation):
    body = operation.get("requestBody")
    if body is None:
        return None, False
    node = body["content"]["application/json"]["schema"]
    options = [o for o in node.get("anyOf", [node]) if o.get("type") != "null"]
    assert len(options) == 1, node
    return _resolve(schema, options[0]), body.get("required", False)


def _field_shape(schema, node):
    node = _resolve(schema, node)
    if "enum" in node:
        return node["type"], node["enum"]
    return node["type"], node.get("format")


def test_every_action_is_its_own_operation_and_nothing_else_is(schema):
    actions = {
        path.removeprefix(PREFIX)
        for path in schema["paths"]
        if path.startswith(PREFIX) and "post" in schema["paths"][path]
    }
    assert actions == set(EXPECTED)
    operation_ids = [schema["paths"][PREFIX + a]["post"]["operationId"] for a in EXPECTED]
    assert len(set(operation_ids)) == len(EXPECTED)


@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_each_action_documents_exactly_its_input(schema, action):
    operation = schema["paths"][PREFIX + action]["post"]
    assert operation["parameters"][0]["name"] == "referral_id"
    assert operation["parameters"][0]["schema"]["format"] == "uuid"
    body, body_required = _body_schema(schema, operation)
    expected = EXPECTED[action]
    if expected is None:
        assert body is None
        return
    required, fields = expected
    assert sorted(body.get("required", [])) == sorted(required)
    assert body_required == bool(required)  # an action whose fields all default takes no body
    assert {name: _field_shape(schema, node) for name, node in body["properties"].items()} == (
        fields
    )


def test_the_catch_all_for_unknown_actions_is_not_documented(schema):
    assert PREFIX + "{action}" not in schema["paths"]
