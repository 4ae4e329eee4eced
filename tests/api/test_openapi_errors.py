"""The OpenAPI document is as strict as the server (issue 9 item 14): every operation declares
the error answers its shape implies, each in the one error format, and no required string of a
request can be sent empty (or, for an ID number, in a shape the server refuses) while the
document calls it valid."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

METHODS = {"get", "post", "put", "patch", "delete"}
ERROR_REF = "#/components/schemas/ErrorOut"


@pytest.fixture(scope="module")
def document(django_db_blocker):
    with django_db_blocker.unblock():
        return Client().get("/api/v1/openapi.json").json()


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def resolved(document, schema):
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = document["components"]["schemas"][name]
    return schema


def test_every_operation_declares_the_errors_its_shape_implies(document):
    missing = {}
    for label, operation in operations(document):
        declared = {int(status) for status in operation["responses"] if status.isdigit()}
        parameters = operation.get("parameters", [])
        expected = set()
        if operation.get("security"):
            expected |= {401, 403}
        if any(p["in"] == "path" for p in parameters):
            expected.add(404)
        if parameters or "requestBody" in operation:
            expected.add(422)
        if "requestBody" in operation:
            expected |= {400, 413}
        if not any(400 <= status < 500 for status in declared) or expected - declared:
            missing[label] = sorted(expected - declared) or "no 4xx"
    assert missing == {}


def test_every_declared_error_is_the_one_error_format(document):
    error = document["components"]["schemas"]["ErrorOut"]
    assert error["required"] == ["code", "message", "details"]
    for label, operation in operations(document):
        for status, answer in operation["responses"].items():
            if status.startswith("4"):
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": ERROR_REF}, (label, status)


def test_the_operations_with_conflicts_and_limits_declare_them(document):
    def declared(method, path):
        return set(document["paths"][path][method]["responses"])

    assert {"409", "429"} <= declared("post", "/api/v1/residents")
    assert {"404", "429"} <= declared("post", "/api/v1/residents/lookup")
    assert {"401", "429"} <= declared("post", "/api/v1/auth/token")
    assert {"409", "429"} <= declared("post", "/api/v1/healthcodes/scan")


def _required_strings(document, schema, where):
    """(where, property schema) of every required string property, depth first."""
    schema = resolved(document, schema)
    for option in schema.get("anyOf", []) + schema.get("allOf", []):
        yield from _required_strings(document, option, where)
    for name, prop in schema.get("properties", {}).items():
        prop = resolved(document, prop)
        if name in schema.get("required", []) and prop.get("type") == "string":
            yield f"{where}.{name}", prop
        if prop.get("type") == "object" or "properties" in prop:
            yield from _required_strings(document, prop, f"{where}.{name}")


def test_no_required_string_of_a_request_is_valid_empty(document):
    loose = []
    for label, operation in operations(document):
        body = operation.get("requestBody", {}).get("content", {})
        for media in body.values():
            for where, prop in _required_strings(document, media["schema"], label):
                constrained = (
                    prop.get("minLength", 0) >= 1
                    or "enum" in prop
                    or prop.get("format") in {"uuid", "date", "date-time", "binary"}
                    or (prop.get("pattern") and not re.fullmatch(prop["pattern"], ""))
                )
                if not constrained:
                    loose.append(where)
        for parameter in operation.get("parameters", []):
            prop = resolved(document, parameter.get("schema", {}))
            constrained = prop.get("minLength", 0) >= 1 or "enum" in prop or prop.get("format")
            if parameter.get("required") and prop.get("type") == "string" and not constrained:
                loose.append(f"{label} {parameter['name']}")
    assert loose == []


def _string_properties(document, schema, name):
    schema = resolved(document, schema)
    for option in schema.get("anyOf", []) + schema.get("allOf", []):
        yield from _string_properties(document, option, name)
    for prop_name, prop in schema.get("properties", {}).items():
        prop = resolved(document, prop)
        if prop_name == name:
            yield prop
        yield from _string_properties(document, prop, name)


def test_an_id_number_has_the_shape_the_server_accepts(document):
    """ "0" or "" is not an ID number: every national_id the API takes carries the pattern the
    server enforces (17 digits and a digit or X; the check digit is the server's 422)."""
    found = 0
    for _label, operation in operations(document):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            for field in ("national_id", "guardian_national_id"):
                for prop in _string_properties(document, media["schema"], field):
                    found += 1
                    pattern = prop.get("pattern", "")
                    assert re.search(pattern, "11010519491231002X")
                    for bad in ("0", "1101051949123100", "11010519491231002x1"):
                        assert not re.search(pattern, bad), (field, pattern, bad)
    assert found >= 4  # register, lookup, offer a contract, switch
