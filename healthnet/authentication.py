"""API authentication: bearer tokens for integrations and apps, the session for the portal.

A request without valid credentials answers 401 with `WWW-Authenticate: Bearer` (config/api.py),
for reads and writes alike. The session is tried only when the request carries a signed-in
session, and only then is its CSRF token checked (403 `csrf_failed` when wrong): an anonymous
write must not be told "forbidden" when it is unauthenticated.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer
from ninja.security.apikey import APIKeyCookie
from ninja.utils import check_csrf

from healthnet.errors import Forbidden
from healthnet.models import ApiToken, User
from healthnet.services import TOKEN_PREFIX, token_hash

# last_used_at is written at most this often; the idle limit is exact to within it.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def api_token_usable(api_token: ApiToken, *, now: dt.datetime) -> bool:
    """Not revoked, not past its absolute end, not idle longer than API_TOKEN_IDLE_SECONDS, and
    its user still active."""
    idle_limit = dt.timedelta(seconds=settings.API_TOKEN_IDLE_SECONDS)
    last_activity = api_token.last_used_at or api_token.created_at
    return (
        api_token.revoked_at is None
        and api_token.expires_at > now
        and now - last_activity <= idle_limit
        and api_token.user.is_active
    )


# Set on the request by BearerTokenAuth: a bearer token was sent and refused (bearer_token_refused).
REFUSED_MARK = "_bearer_token_refused"


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        setattr(request, REFUSED_MARK, True)
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return None
        api_token = (
            ApiToken.objects.select_related("user", "user__institution")
            .filter(token_hash=token_hash(token), revoked_at__isnull=True)
            .first()
        )
        now = timezone.now()
        if api_token is None or not api_token_usable(api_token, now=now):
            return None
        if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        setattr(request, REFUSED_MARK, False)
        request.user = api_token.user
        setattr(request, "api_token", api_token)  # noqa: B010 - the token a revoke ends
        return api_token.user


def bearer_token_refused(request: HttpRequest) -> bool:
    """True when the request sent a bearer token and it was not accepted."""
    return bool(getattr(request, REFUSED_MARK, False))


class SessionAuth(APIKeyCookie):
    """The portal's signed-in session (Django's session cookie), CSRF-checked on writes."""

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> User | None:
        user = request.user
        if not user.is_authenticated:
            return None  # no session login: not authenticated (401), whatever the method
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise Forbidden(
                "csrf_failed",
                "CSRF 校验失败，请刷新页面后重试 (CSRF check failed; reload the page)",
            )
        return user

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = request.user
        return user if user.is_authenticated else None


bearer_auth = BearerTokenAuth()
session_auth = SessionAuth()
API_AUTH = [bearer_auth, session_auth]
