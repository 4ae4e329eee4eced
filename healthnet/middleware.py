"""Request-wide middleware of the network app.

- RequestIdMiddleware: every request gets an id (kept from a well-formed X-Request-ID, else new)
  and its client address, for logs, audit rows and the login throttle.
- SessionLimitsMiddleware: a portal login ends after SESSION_IDLE_SECONDS untouched or
  SESSION_COOKIE_AGE after it began, whichever comes first (shared clinic PCs).
- ResponseHeadersMiddleware: `Cache-Control: no-store` on every response that does not say
  otherwise (API answers and portal pages carry personal data), and the Content-Security-Policy
  on HTML pages.
"""

from __future__ import annotations

import ipaddress
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _

from healthnet.request_context import client_ip_var, request_id_var

_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

GetResponse = Callable[[HttpRequest], HttpResponse]


def _ip_or_none(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    """The client's address as the outermost trusted proxy saw it.

    With TRUSTED_PROXY_HOPS = n, the last n entries of X-Forwarded-For were written by our own
    proxies; the n-th from the right is the address that connected to the outermost one. What a
    client put in the header itself sits further left and is never read. With no proxy (0) the
    connecting address is the client's; with fewer entries than hops, the leftmost one."""
    connecting = _ip_or_none(request.META.get("REMOTE_ADDR") or "")
    hops = int(settings.TRUSTED_PROXY_HOPS)
    if hops <= 0:
        return connecting
    forwarded = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    if not forwarded:
        return connecting
    chosen = forwarded[-hops] if len(forwarded) >= hops else forwarded[0]
    return _ip_or_none(chosen) or connecting


class RequestIdMiddleware:
    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _ACCEPTABLE_ID.match(incoming) else uuid.uuid4().hex
        setattr(request, "request_id", request_id)  # noqa: B010 - not an HttpRequest attribute
        id_token = request_id_var.set(request_id)
        ip_token = client_ip_var.set(client_address(request))
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(id_token)
            client_ip_var.reset(ip_token)
        response["X-Request-ID"] = request_id
        return response


# A request a page makes by itself (a region refreshing on a timer) carries this header with "1":
# it is not a person's activity, so it does not keep an idle session alive (portal/htmx.py).
BACKGROUND_POLL_HEADER = "X-HealthNet-Poll"


def is_background_request(request: HttpRequest) -> bool:
    return request.headers.get(BACKGROUND_POLL_HEADER) == "1"


# Session keys of SessionLimitsMiddleware: when the login began, when it was last used.
LOGIN_AT = "_healthnet_login_at"
SEEN_AT = "_healthnet_seen_at"
SEEN_RESOLUTION_SECONDS = 60  # write the session at most once a minute for activity


class SessionLimitsMiddleware:
    """Ends a session login that is idle too long or older than a shift; the next request is
    anonymous (the portal sends it to the login page with a message; the API answers 401).
    Runs after AuthenticationMiddleware and MessageMiddleware. Bearer tokens have their own
    limits (healthnet/authentication.py)."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = request.session
        if SESSION_KEY in session and LOGIN_AT in session:
            now = time.time()
            idle = now - session.get(SEEN_AT, session[LOGIN_AT])
            age = now - session[LOGIN_AT]
            if idle > settings.SESSION_IDLE_SECONDS or age > settings.SESSION_COOKIE_AGE:
                logout(request)
                if not request.path_info.startswith("/api/"):
                    messages.info(request, _("您已长时间未操作或登录已超过时限，请重新登录。"))
            elif now - session.get(
                SEEN_AT, 0
            ) >= SEEN_RESOLUTION_SECONDS and not is_background_request(request):
                session_limits_stamp(session, now=now, started=session[LOGIN_AT])
        response = self.get_response(request)
        if SESSION_KEY in session and LOGIN_AT not in session:  # logged in before these limits
            session_limits_stamp(session, now=time.time())
        return response


def session_limits_stamp(session, *, now: float, started: float | None = None) -> None:
    """Record activity on a session login (`started` None = it begins now). Called at login
    (healthnet.receivers) and by SessionLimitsMiddleware."""
    started = now if started is None else started
    session[LOGIN_AT] = started
    session[SEEN_AT] = now
    # The cookie and the stored session end with the login: at the idle limit, or sooner at the
    # absolute one.
    remaining = started + settings.SESSION_COOKIE_AGE - now
    session.set_expiry(max(1, int(min(settings.SESSION_IDLE_SECONDS, remaining))))


class ResponseHeadersMiddleware:
    """Headers every dynamic response gets unless its view set them. Static files are served by
    WhiteNoise before this middleware and keep their long cache lifetimes."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, no_store=True)
        content_type = response.get("Content-Type", "")
        policy = settings.CONTENT_SECURITY_POLICY
        debug_page = settings.DEBUG and response.status_code >= 400  # Django's inline-styled ones
        if (
            policy
            and content_type.startswith("text/html")
            and not debug_page
            and not response.has_header("Content-Security-Policy")
        ):
            response["Content-Security-Policy"] = policy
        return response
