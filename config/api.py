"""The one NinjaAPI at /api/v1/, and the one error format of the whole API:

    {"code": "machine_readable", "message": "human text", "details": {...}}

Domain errors (healthnet.errors) are mapped to HTTP statuses here and nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.renderers import JSONRenderer

from config.api_errors import code_and_message
from config.openapi import errors_declared
from healthnet.authentication import API_AUTH, bearer_token_refused
from healthnet.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    RateLimited,
)

logger = logging.getLogger("healthnet.api")

STATUS_OF_ERROR: list[tuple[type[DomainError], int]] = [
    (InvalidInput, 422),
    (NotAuthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (RateLimited, 429),
]

# ninja's own HTTP errors (body parsing, auth, throttling) in our format; a 400 from ninja is a
# body it could not parse. Other statuses: config/api_errors.py.
MALFORMED_BODY = (
    "malformed_request",
    "请求体无法解析，应为有效的 JSON (request body is not valid JSON)",
)


def docs_access(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The API documentation and its OpenAPI document: public when API_DOCS_PUBLIC, else only
    for a signed-in staff user (any role but resident); others are sent to the login page."""

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not settings.API_DOCS_PUBLIC:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if getattr(user, "role", "") == "resident":
                raise Http404
        return view(request, *args, **kwargs)

    return guarded


class Utf8JSONRenderer(JSONRenderer):
    """Chinese text as text, not \\uXXXX escapes: readable in logs, curl and HIS debugging."""

    json_dumps_params = {"ensure_ascii": False}


class HealthNetAPI(NinjaAPI):
    """The OpenAPI document declares every operation's error answers (config/openapi.py)."""

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        document = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        return errors_declared(document)


api = HealthNetAPI(
    renderer=Utf8JSONRenderer(),
    title="HealthNet API",
    version="1",
    description=(
        "乌海市医疗卫生服务网络 — institutions, residents, family-doctor contracts, two-way "
        "referrals and QR health codes. Authenticate with `POST /api/v1/auth/token`, then send "
        "`Authorization: Bearer <token>`. Every error is "
        '`{"code": ..., "message": ..., "details": {...}}`.'
    ),
    auth=API_AUTH,
    urls_namespace="api-v1",
    docs_url="/docs",
    docs_decorator=docs_access,
)


def error_response(
    request: HttpRequest, status: int, code: str, message: str, details: dict | None = None
) -> HttpResponse:
    return api.create_response(
        request, {"code": code, "message": message, "details": details or {}}, status=status
    )


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    status = next((s for kind, s in STATUS_OF_ERROR if isinstance(exc, kind)), 400)
    response = error_response(request, status, exc.code, exc.message, exc.details)
    if isinstance(exc, RateLimited) and "retry_after_seconds" in exc.details:
        response["Retry-After"] = str(exc.details["retry_after_seconds"])
    return response


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {
            "field": _field_of(error.get("loc") or ()),
            "location": (error.get("loc") or ["body"])[0],
            "message": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in exc.errors
    ]
    return error_response(
        request,
        422,
        "validation_error",
        "请求参数不合法 (the request has invalid or missing fields)",
        {"errors": errors},
    )


def _field_of(loc) -> str | None:
    """ninja reports ("body", "payload", "password"): the field is what follows the handler's
    parameter name; for query and path parameters it follows the location."""
    parts = [str(part) for part in loc]
    start = 2 if parts[:1] == ["body"] and len(parts) > 2 else 1
    return ".".join(parts[start:]) or None


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    """No credentials, or a token that is unknown, expired, idle too long or revoked: 401 with
    the scheme to use (RFC 6750), also on writes."""
    code, message = code_and_message(401)
    response = error_response(request, 401, code, message)
    challenge = 'Bearer realm="healthnet"'
    if bearer_token_refused(request):
        challenge += ', error="invalid_token"'
    response["WWW-Authenticate"] = challenge
    return response


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, RequestDataTooBig):  # ninja wraps any body-reading error in a 400
        return on_body_too_large(request, exc.__cause__)
    code, message = MALFORMED_BODY if exc.status_code == 400 else code_and_message(exc.status_code)
    return error_response(request, exc.status_code, code, message)


@api.exception_handler(RequestDataTooBig)
def on_body_too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE: refused before it is parsed."""
    code, message = code_and_message(413)
    return error_response(
        request, 413, code, message, {"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
    )


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    code, message = code_and_message(404)
    return error_response(request, 404, code, message)


def mount_routers() -> None:
    from healthcodes.api import router as healthcodes_router
    from healthnet.api import (
        alliances_router,
        auth_router,
        institutions_router,
        residents_router,
    )
    from referrals.api import router as referrals_router
    from referrals.api_slots import router as referrals_slots_router
    from reports.api import router as reports_router
    from signing.api import router as signing_router

    api.add_router("/auth", auth_router)
    api.add_router("/institutions", institutions_router)
    api.add_router("/alliances", alliances_router)
    api.add_router("/residents", residents_router)
    api.add_router("/", signing_router)
    api.add_router("/referrals", referrals_slots_router)
    api.add_router("/referrals", referrals_router)
    api.add_router("/", healthcodes_router)
    api.add_router("/reports", reports_router)


mount_routers()
