"""API authentication: bearer tokens for integrations and apps, the session for the portal."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from ninja.security import APIKeyCookie, HttpBearer
from ninja.security import django_auth as _django_session_auth

from healthnet.models import ApiToken
from healthnet.services import TOKEN_PREFIX, token_hash

LAST_USED_RESOLUTION = dt.timedelta(minutes=5)


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request, token: str):
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return None
        api_token = (
            ApiToken.objects.select_related("user", "user__institution")
            .filter(token_hash=token_hash(token), revoked_at__isnull=True)
            .first()
        )
        now = timezone.now()
        if api_token is None or api_token.expires_at <= now or not api_token.user.is_active:
            return None
        if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        request.user = api_token.user
        request.api_token = api_token
        return api_token.user


bearer_auth = BearerTokenAuth()
session_auth: APIKeyCookie = _django_session_auth
API_AUTH = [bearer_auth, session_auth]
