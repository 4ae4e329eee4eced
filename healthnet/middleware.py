"""Request-wide middleware of the network app.

- RequestIdMiddleware: every request gets an id (kept from a well-formed X-Request-ID, else new)
  and its client address, for logs, audit rows and the login throttle.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

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
        request.request_id = request_id
        id_token = request_id_var.set(request_id)
        ip_token = client_ip_var.set(client_address(request))
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(id_token)
            client_ip_var.reset(ip_token)
        response["X-Request-ID"] = request_id
        return response

