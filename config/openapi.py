"""The API's error answers in its OpenAPI document, declared the same way for every operation.

Every error body is ErrorOut (`{"code", "message", "details"}`, config/api.py). What an operation
may answer follows from its shape, and `errors_declared` adds it to the document:

- it needs a login (`security`): 401 (no or a refused token) and 403 (a role that may not);
- it has a path parameter: 404 (no such record, or one out of the caller's scope: the same);
- it has parameters or a body: 422 (a value refused: `validation_error` or a domain code);
- it has a body: 400 (not JSON) and 413 (over DATA_UPLOAD_MAX_MEMORY_SIZE).

An uploaded file is declared non-empty (`minLength: 1`): Django reads an empty part as no file.

What an operation answers beyond its shape (409 on a conflict, 429 from a rate limit, 404 from a
lookup without a path parameter) it declares itself, next to its handler:
`response={201: ResidentOut, **errors(409, 429)}`. tests/api/test_openapi_errors.py walks the
document; tests/api/test_schemathesis.py checks the server answers nothing undeclared.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from django.http import HttpResponse
from ninja import Field, Schema
from ninja.responses import NinjaJSONEncoder
from pydantic import BeforeValidator


def _iso_date_only(value: Any) -> Any:
    """pydantic reads a number ("0") as a Unix time and makes it a date; the document says
    `format: date`, so only YYYY-MM-DD (or a date) is one."""
    if isinstance(value, dt.date) or (isinstance(value, str) and len(value) == 10):
        return value
    raise ValueError("应为 YYYY-MM-DD 格式的日期 (a date is YYYY-MM-DD)")


# A date as the OpenAPI document declares it (query parameters, where numbers would slip in).
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date_only)]

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "the body is not valid JSON (`malformed_request`)",
    401: "no credentials, or a token that is unknown, expired, idle too long or revoked",
    403: "the caller's role may not do this",
    404: "no such record, or one outside the caller's scope (the same answer)",
    409: "the change contradicts the current state (a duplicate, a transition not allowed)",
    413: "the body is larger than the server accepts (`request_too_large`)",
    422: "a value is refused: `validation_error` (with `details.errors`) or a domain code",
    429: "too many requests: wait `Retry-After` seconds",
}


class ErrorOut(Schema):
    """Every error of the API."""

    code: str = Field(..., description="machine-readable and stable, e.g. `resident_not_found`")
    message: str = Field(..., description="中文 (English)")
    details: dict[str, Any] = Field(..., description="what the code says more, e.g. `field`")


def errors(*statuses: int) -> dict[int, type[ErrorOut]]:
    """The error statuses an operation answers beyond those its shape implies, for its
    `response=` mapping."""
    unknown = set(statuses) - set(ERROR_DESCRIPTIONS)
    if unknown:
        raise ValueError(f"no description for {sorted(unknown)}: add it to ERROR_DESCRIPTIONS")
    return dict.fromkeys(statuses, ErrorOut)


ERROR_REF = "#/components/schemas/ErrorOut"


def implied_errors(operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation answers because of its shape (see the module doc)."""
    implied: set[int] = set()
    parameters = operation.get("parameters") or []
    if operation.get("security"):
        implied |= {401, 403}
    if any(parameter.get("in") == "path" for parameter in parameters):
        implied.add(404)
    if parameters or "requestBody" in operation:
        implied.add(422)
    if "requestBody" in operation:
        implied |= {400, 413}
    return implied


def _uploads_non_empty(operation: dict[str, Any]) -> None:
    content = operation.get("requestBody", {}).get("content", {})
    for media in content.values():
        for prop in media.get("schema", {}).get("properties", {}).values():
            if prop.get("format") == "binary":
                prop.setdefault("minLength", 1)


def errors_declared(document: dict[str, Any]) -> dict[str, Any]:
    """The document with every operation's error answers declared, each as ErrorOut."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorOut", ErrorOut.model_json_schema(ref_template=ERROR_REF))
    error_answer_content = {"application/json": {"schema": {"$ref": ERROR_REF}}}
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            _uploads_non_empty(operation)
            responses = operation.setdefault("responses", {})
            declared = {int(status) for status in responses if str(status).isdigit()}
            for status in sorted(implied_errors(operation) | (declared & set(ERROR_DESCRIPTIONS))):
                responses.pop(str(status), None)
                responses[status] = {  # ninja's own keys are ints
                    "description": ERROR_DESCRIPTIONS[status],
                    "content": error_answer_content,
                }
    return document


def view_answer(view: Schema | dict[str, Any], status: int = 200) -> HttpResponse:
    """An answer that is already one of the operation's declared views (a role's view of a
    record, chosen by permission), or a page of them: sent as it is, not validated again
    against the union of views (tests/api/test_schemathesis.py checks it conforms)."""
    body = view.model_dump(mode="json") if isinstance(view, Schema) else view
    return HttpResponse(
        json.dumps(body, ensure_ascii=False, cls=NinjaJSONEncoder),
        status=status,
        content_type="application/json; charset=utf-8",
    )
